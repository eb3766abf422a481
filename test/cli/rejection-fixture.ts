// A process with the service's unhandled-rejection handler, rejecting one promise as argv[2] says.
import { installUnhandledRejectionHandler } from "../../src/cli/unhandled-rejection.ts";

installUnhandledRejectionHandler();
const which = process.argv[2];
if (which === "connection-reset") {
  // A connection-like error from anything but postgres.js's type lookup (here: a forgotten await).
  void Promise.reject(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }));
} else if (which === "type-lookup") {
  // What postgres.js rejects its per-connection array-type lookup with when the socket closes: its
  // connection error, tagged (non-enumerable, as postgres.js does) with the query's SQL.
  const error = Object.assign(new Error("write CONNECTION_CLOSED 127.0.0.1:5432"), {
    code: "CONNECTION_CLOSED",
  });
  Object.defineProperty(error, "query", {
    value:
      "select b.oid, b.typarray from pg_catalog.pg_type a left join pg_catalog.pg_type b on b.oid = a.typelem",
  });
  void Promise.reject(error);
}
setTimeout(() => process.stdout.write("survived\n"), 200);
