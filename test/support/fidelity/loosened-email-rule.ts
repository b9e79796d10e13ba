/**
 * Test-only: preloaded into one users service of the fidelity test to loosen one rule, so the test can show it
 * notices a server that disagrees. Anything with an "@" is an e-mail here; every other rule stays.
 */
import { formats } from "../../../platform/rules/formats.js";

formats.email = (v) => v.includes("@");
