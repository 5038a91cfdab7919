#!/usr/bin/env bash
# Regenerates api/gen from api/proto with buf + ts-proto (offline: both come from npm).
set -euo pipefail
cd "$(dirname "$0")"
rm -rf gen
../node_modules/.bin/buf generate
# The NetworkService RPC "Close" collides with grpc-js Client.close(); our code calls the service
# through sdk/grpc (Client.makeUnaryRequest), so the generated client type only needs to compile.
sed -i 's/^export interface NetworkServiceClient extends Client {/export interface NetworkServiceClient extends Omit<Client, "close"> {/' \
  gen/networkservice/networkservice.ts
