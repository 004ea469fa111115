/** the one freePort, kept with the tools (demo, benchmarks) and shared with the tests */
export { freePort } from '../../tools/free-port';
