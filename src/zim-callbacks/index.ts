/** ZIM's server callbacks: their signature and payload shapes, shared by the emulator and the future receiver. */
export { signCallback, verifyCallbackSignature, type CallbackSignatureParts } from './signature';
export * from './events';
