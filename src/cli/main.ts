import { Command } from "commander";
import { registerCheck } from "./check.ts";
import { registerFault } from "./fault.ts";
import { registerFlashSale } from "./flash-sale.ts";
import { registerLab } from "./lab.ts";
import { registerNemesis } from "./nemesis.ts";
import { registerReconcile } from "./reconcile.ts";
import { registerRegions } from "./regions.ts";
import { registerServe } from "./serve.ts";
import { registerVerify } from "./verify.ts";

const program = new Command("chaoscart")
  .description("Flash-sale shop and the fault-tolerance lab that verifies it")
  .showHelpAfterError();
registerServe(program);
registerFlashSale(program);
registerLab(program);
registerFault(program);
registerNemesis(program);
registerRegions(program);
registerReconcile(program);
registerVerify(program);
registerCheck(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  console.error(`chaoscart: ${(error as Error).message}`);
  process.exit(1);
}
