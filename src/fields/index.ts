/**
 * Fields: the kinds of value tonewall collects, their validators, their masked forms, and the one
 * function that writes a collected field onto a call (writeField).
 */
export { FIELD_KINDS, isFieldKind, type FieldKind } from './kinds';
export * from './validators';
export { type MaskedField, maskValue, maskField, maskProgress, maskPhone } from './mask';
export { fieldState, writeField, type FieldState, type FieldInput, type FieldHolder } from './field';
export { ERROR_TYPES, errorTypeFor, type ErrorType } from './error-types';
