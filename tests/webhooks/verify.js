// Reads [{secret, headers, body}] on stdin; verifies each with the standardwebhooks library.
// Prints one line per item: "ok" or "fail <reason>".
const { Webhook } = require("standardwebhooks");
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  for (const item of JSON.parse(input)) {
    try {
      new Webhook(item.secret).verify(item.body, item.headers);
      console.log("ok");
    } catch (e) {
      console.log("fail " + e.message);
    }
  }
});
