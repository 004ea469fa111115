import { coded } from './base';

export const FlowErrors = {
  invalid: coded('TW_ERR_FLOW_INVALID', 'flow file is invalid'),
  notFound: coded('TW_ERR_FLOW_NOT_FOUND', 'no flow for this number', 404),
  /** a call's flow was unloaded (a reload dropped it) while the call was in its IVR */
  notLoaded: coded('TW_ERR_FLOW_NOT_LOADED', 'the flow of this call is no longer loaded'),
  /** the engine kept asking for effects past any flow's length: a bug, never a caller's doing */
  unsettled: coded('TW_ERR_FLOW_UNSETTLED', 'flow engine did not settle'),
} as const;
