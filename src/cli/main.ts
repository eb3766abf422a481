import { Command } from "commander";

const program = new Command("chaoscart").description("Flash-sale shop and fault-tolerance lab");
await program.parseAsync(process.argv);
