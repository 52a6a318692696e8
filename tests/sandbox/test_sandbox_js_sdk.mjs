// Drives seven's official JS SDK (@seven.io/client) against the sandbox.
// argv: <path to the package's dist/seven-client.js> <base URL> <api key> [signing secret]
// Prints one JSON object with what each NumbersResource call returned.
const [sdkPath, baseUrl, apiKey, signingSecret] = process.argv.slice(2);
const { Client, NumbersResource } = await import(sdkPath);
Client.BASE_URL = baseUrl; // a static field the SDK reads on every request
const client = new Client({ apiKey, signingSecret: signingSecret || undefined });
const numbers = new NumbersResource(client);

const results = {};
results.available = await numbers.listAvailable({ country: "DE", features_sms: true });
const number = results.available.availableNumbers[0].number;
results.order = await numbers.order({ number, payment_interval: "monthly" });
results.active = await numbers.listActive();
results.get = await numbers.getActive({ number });
results.update = await numbers.update({
  number, friendly_name: "from js", sms_forward: ["4917612345678"], email_forward: [],
});
results.deleteAtEnd = await numbers.delete({ number, delete_immediately: false });
results.afterDeleteAtEnd = await numbers.getActive({ number });
results.delete = await numbers.delete({ number, delete_immediately: true });
results.number = number;
console.log(JSON.stringify(results));
