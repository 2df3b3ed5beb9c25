// Calls keys.v1.KeyValidationService/Validate from Node.js (@grpc/grpc-js), as a client that is not .NET would.
// Usage: node validate.mjs <host:port> <protos dir> <key>; the service token, if any, comes from KEYS_SERVICE_TOKEN
// (an environment variable, never the command line that every process can read). Prints {"code":…,"outcome":…}.
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const [address, protos, key] = process.argv.slice(2);
const definition = protoLoader.loadSync('keys/v1/key_validation.proto', { includeDirs: [protos], enums: String });
const { KeyValidationService } = grpc.loadPackageDefinition(definition).keys.v1;
const client = new KeyValidationService(address, grpc.credentials.createInsecure());

const metadata = new grpc.Metadata();
if (process.env.KEYS_SERVICE_TOKEN) {
  metadata.add('authorization', `Bearer ${process.env.KEYS_SERVICE_TOKEN}`);
}

client.Validate({ key }, metadata, { deadline: Date.now() + 10_000 }, (error, response) => {
  console.log(JSON.stringify(error ? { code: error.code, outcome: null } : { code: 0, outcome: response.outcome }));
  client.close();
});
