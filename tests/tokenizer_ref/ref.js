// The reference side of the tokenizer checks, with the packages scripts/deps.sh installs
// into NPM_DIR (.ref/npm of the clone). ENGINE is one of
//   lenml   @lenml/tokenizers (a port of transformers.js's tokenizers to JavaScript) with
//           the @lenml/tokenizer-NAME package
//   hf      Hugging Face's tokenizers library itself (Rust, through its Node binding
//           `tokenizers`) on that package's models/tokenizer.json
// and NAME one of llama3, qwen3, deepseek_v3, llama2, gemma3.
//
//   node ref.js NPM_DIR ENGINE NAME < lines.jsonl
//       for each line (a JSON string) one JSON line {"ids": [...], "text": decode(ids)},
//       without the post-processor's special tokens, decoding without skipping special
//       tokens or cleaning up spaces: what tests/hftok_cli prints for the same line
//   node ref.js NPM_DIR ENGINE NAME --throughput [MAX_BYTES] < lines.jsonl
//       encodes the lines (up to MAX_BYTES of UTF-8 text, all when 0 or absent) and prints
//       one line: "BYTES bytes, TOKENS tokens, SECONDS s: RATE MB/s" (one thread, the load
//       and the JSON parsing not counted; hf's encode is asynchronous and each call is
//       awaited before the next, so one encode runs at a time)
//   node ref.js NPM_DIR ENGINE NAME --time
//       loads the tokenizer and prints "SECONDS s"
"use strict";
const fs = require("fs");
const path = require("path");

const [npmDir, engine, name, mode, maxArg] = process.argv.slice(2);
if (!npmDir || !["lenml", "hf"].includes(engine) || !name) {
  process.stderr.write("usage: node ref.js NPM_DIR lenml|hf NAME [--throughput [MAX_BYTES] | --time] < lines.jsonl\n");
  process.exit(2);
}
const pkg = path.resolve(npmDir, "node_modules", "@lenml", "tokenizer-" + name);
const hfPkg = path.resolve(npmDir, "node_modules", "tokenizers");
for (const p of [pkg, hfPkg])
  if (!fs.existsSync(p)) {
    process.stderr.write(`ref.js: cannot find '${p}' (run scripts/deps.sh)\n`);
    process.exit(1);
  }

// encode(text) -> ids and decode(ids) -> text, both as promises
function load() {
  if (engine === "lenml") {
    const tok = require(pkg).fromPreTrained();
    return {
      encode: async (text) => tok.encode(text, { add_special_tokens: false }),
      decode: async (ids) => tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
    };
  }
  const { Tokenizer } = require(hfPkg);
  const tok = Tokenizer.fromFile(path.join(pkg, "models", "tokenizer.json"));
  return {
    encode: async (text) => (await tok.encode(text, null, { addSpecialTokens: false })).getIds(),
    decode: (ids) => tok.decode(ids, false),
  };
}

async function main() {
  const t0 = process.hrtime.bigint();
  const tok = load();
  const loadSecs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (mode === "--time") {
    console.log(`${loadSecs.toFixed(3)} s`);
    return;
  }

  const texts = [];
  for (const line of fs.readFileSync(0, "utf8").split("\n"))
    if (line !== "")
      texts.push(JSON.parse(line));

  if (mode === "--throughput") {
    const max = Number(maxArg || 0);
    let bytes = 0, ntok = 0, secs = 0;
    for (const text of texts) {
      if (max && bytes >= max)
        break;
      const a = process.hrtime.bigint();
      const ids = await tok.encode(text);
      secs += Number(process.hrtime.bigint() - a) / 1e9;
      bytes += Buffer.byteLength(text, "utf8");
      ntok += ids.length;
    }
    console.log(`${bytes} bytes, ${ntok} tokens, ${secs.toFixed(3)} s: ${(secs > 0 ? bytes / secs / 1e6 : 0).toFixed(2)} MB/s`);
    return;
  }

  const out = [];
  for (const text of texts) {
    const ids = Array.from(await tok.encode(text));
    const dec = ids.length ? await tok.decode(ids) : "";
    out.push(JSON.stringify({ ids, text: dec }));
  }
  process.stdout.write(out.length ? out.join("\n") + "\n" : "");
}

main().catch((e) => {
  process.stderr.write(`ref.js: ${engine} ${name}: ${e.stack || e}\n`);
  process.exit(1);
});
