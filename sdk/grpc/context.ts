// Builds a Context for an incoming gRPC call: aborted when the caller cancels or goes away,
// with the caller's deadline when it set one.
import type { ServerSurfaceCall } from '@grpc/grpc-js/build/src/server-call.js';
import { background, type Context } from '../core/context.js';

export function contextFromCall(call: ServerSurfaceCall, base: Context = background()): Context {
  const controller = new AbortController();
  call.on('cancelled', () => controller.abort(new Error('call cancelled by the caller')));
  const deadline = call.getDeadline();
  const deadlineMs =
    deadline instanceof Date ? deadline.getTime() : Number.isFinite(deadline) ? deadline : undefined;
  return { ...base, signal: controller.signal, deadline: deadlineMs };
}
