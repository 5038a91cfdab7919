export const OUTGOING_MECHANISM_KEY = Symbol('xconnect-outgoing-mechanism');
export const INCOMING_KEY = Symbol('xconnect-incoming');
export const PROGRAMMED_KEY = Symbol('xconnect-programmed');
