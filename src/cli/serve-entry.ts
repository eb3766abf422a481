import { Command } from "commander";
import { registerServe } from "./serve.ts";

// `chaoscart serve <role>` alone: the entry of the prebuilt bundle that the lab launches its services
// from (see src/lab/topology/service-bundle.ts). Same command, same behaviour as through bin/chaoscart.js.
const program = new Command("chaoscart").showHelpAfterError();
registerServe(program);
try {
  await program.parseAsync(process.argv);
} catch (error) {
  console.error(`chaoscart: ${(error as Error).message}`);
  process.exit(1);
}
