/** Public API of the ZIM emulator: start it in-process (tests) or from the CLI (`zim-migrate emulator`). */
export { startZimEmulator, type ZimEmulator } from './server';
export {
  EmulatorOptionsSchema,
  FaultsSchema,
  ConfigPatchSchema,
  type EmulatorOptions,
  type Faults,
  type FaultsInput,
  type ConfigPatch,
  type Behaviour,
} from './config';
export type { PublicConfig } from './core';
export type { CountersSnapshot } from './counters';
export { Inspector, INTROSPECTION_PREFIX, type MessageView, type UserView } from './introspection';
export { MSG_ID_BASE } from './message-store';
export {
  CallbacksSchema,
  CallbacksPatchSchema,
  ZEGO_RETRY_DELAYS_MS,
  type CallbacksInput,
  type CallbacksPatch,
  type CallbackSwitches,
} from './callback-config';
export type { DeliveryRecord, DeliveryOutcome } from './callback-dispatcher';
