// make_dataset: a text file into byte-level tokens (vocabulary 256), so that real text can
// be trained on with no tokenizer download.
//   make_dataset --input book.txt --output data/book                 # data/book.bin, flat uint16
//   make_dataset --input book.txt --output data/book --format indexed # data/book.bin + .idx (Megatron)
// In the indexed format, each paragraph (text between blank lines) is one document.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/app/cli.h"
#include "core/app/main_guard.h"
#include "core/data/indexed_format.h"
#include "core/report/errors.h"
#include "core/report/files.h"
#include "core/report/regular_file.h"

using namespace dtbench;

namespace {

void write_tokens(const std::string& path, const std::vector<uint16_t>& tokens) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(tokens.data()), static_cast<std::streamsize>(tokens.size() * 2));
  out.close();
  if (!out || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw RuntimeFailure(fmt::format("cannot write {}", path));
  }
}

}  // namespace

int main(int argc, char** argv) {
  return run_guarded("make_dataset", [&] {
    cxxopts::Options o("make_dataset", "Byte-level tokens (vocabulary 256) from a text file.");
    // clang-format off
    o.add_options()
        ("h,help", "print this help and exit")
        ("input", "text file to read", cxxopts::value<std::string>(), "FILE")
        ("output", "output prefix: writes PREFIX.bin (and PREFIX.idx for --format indexed)",
         cxxopts::value<std::string>(), "PREFIX")
        ("format", "flat (nanoGPT-style uint16 stream) | indexed (Megatron .bin + .idx)",
         cxxopts::value<std::string>()->default_value("flat"), "F");
    // clang-format on
    auto r = parse_flags(o, argc, argv);
    DT_USAGE(r.count("input") && r.count("output"), "--input FILE and --output PREFIX are both required");
    const std::string input = r["input"].as<std::string>(), prefix = r["output"].as<std::string>();
    const std::string format = r["format"].as<std::string>();
    DT_USAGE(format == "flat" || format == "indexed", "--format {}: use flat or indexed", format);
    std::string text;
    // Two bytes of tokens per byte of text are held in memory: a bound far above any corpus
    // this tool is for, and far below an accidental device or disk image.
    const std::string unreadable = read_regular_file(input, int64_t{1} << 34, &text);
    DT_USAGE(unreadable.empty(), "--input {}: {}; give a text file", input, unreadable);
    DT_USAGE(!text.empty(), "--input {}: the file is empty", input);
    const std::string why = make_dirs(parent_dir(prefix));
    DT_USAGE(why.empty(), "--output {}: cannot create its folder: {}", prefix, why);

    std::vector<uint16_t> tokens;
    tokens.reserve(text.size());
    IndexedIndex idx;
    int64_t doc_start = 0;
    auto end_document = [&] {
      const int64_t n = static_cast<int64_t>(tokens.size()) - doc_start;
      if (n <= 0) return;
      idx.pointers.push_back(doc_start * 2);
      idx.sizes.push_back(static_cast<int32_t>(n));
      idx.doc_idx.push_back(static_cast<int64_t>(idx.sizes.size()) - 1);
      doc_start = static_cast<int64_t>(tokens.size());
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
      tokens.push_back(static_cast<unsigned char>(text[i]));
      // A blank line ends a paragraph: "\n\n" closes the document after the second newline.
      if (text[i] == '\n' && i > 0 && text[i - 1] == '\n') end_document();
    }
    end_document();
    idx.doc_idx.push_back(static_cast<int64_t>(idx.sizes.size()));  // Megatron's closing entry

    write_tokens(prefix + ".bin", tokens);
    if (format == "indexed") {
      idx.dtype_code = 8;  // uint16
      write_indexed_index(prefix + ".idx", idx);
    }
    std::printf("%s: %zu tokens (byte-level, vocabulary 256)%s -> %s.bin%s\n", input.c_str(), tokens.size(),
                format == "indexed" ? fmt::format(", {} documents", idx.sizes.size()).c_str() : "", prefix.c_str(),
                format == "indexed" ? " + .idx" : "");
    return 0;
  });
}
