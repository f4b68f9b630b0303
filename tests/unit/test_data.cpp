// Token sources: synthetic determinism, the data-parallel layout, flat and indexed files
// and every kind of bad file.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>
#include <unistd.h>

#include <fstream>

#include "core/data/batch_layout.h"
#include "core/data/indexed_format.h"
#include "core/data/token_source.h"
#include "core/report/errors.h"
#include "core/report/files.h"

using namespace dtbench;

namespace {

struct TempDir {
  std::string path = "/tmp/dtbench-data-" + std::to_string(::getpid());
  TempDir() { make_dirs(path); }
  ~TempDir() { remove_tree(path); }
  std::string file(const std::string& name) const { return path + "/" + name; }
};

template <typename T>
void write_raw(const std::string& path, const std::vector<T>& v) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
}

std::string usage_error(const std::string& spec, int64_t vocab, int64_t seq) {
  try {
    open_token_source(spec, vocab, seq, 1);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("synthetic tokens depend on the seed and the global sample index only") {
  auto src = open_token_source("synthetic", 1000, 16, 42);
  at::Tensor all = src->samples(0, 20);
  CHECK(all.sizes() == at::IntArrayRef({20, 17}));
  CHECK(at::equal(src->samples(10, 4), all.slice(0, 10, 14)));
  CHECK(all.min().item<int64_t>() >= 0);
  CHECK(all.max().item<int64_t>() < 1000);
  CHECK_FALSE(at::equal(open_token_source("synthetic", 1000, 16, 43)->samples(0, 20), all));
  // Roughly uniform: every tenth of the vocabulary is hit.
  at::Tensor big = src->samples(0, 200);
  CHECK(at::bincount(big.flatten().div(100, "floor")).min().item<int64_t>() > 200);
}

TEST_CASE("data-parallel ranks and micro-steps tile the global batch") {
  for (int64_t dp : {1, 2, 3, 4}) {
    BatchLayout l{2, dp, 3};
    std::vector<int> seen(static_cast<size_t>(l.global_batch()), 0);
    for (int64_t r = 0; r < dp; ++r)
      for (int64_t k = 0; k < 3; ++k)
        for (int64_t i = 0; i < 2; ++i) seen[static_cast<size_t>(l.first_sample(5, r, k) + i - 5 * l.global_batch())]++;
    for (int s : seen) CHECK(s == 1);
  }
  // One process with the whole batch sees the samples in the same order as the ranks, rank by rank.
  BatchLayout one{12, 1, 1}, four{1, 4, 3};
  CHECK(one.first_sample(2, 0, 0) == four.first_sample(2, 0, 0));
  CHECK(four.first_sample(2, 1, 0) == one.first_sample(2, 0, 0) + 3);
}

TEST_CASE("flat token files: uint16 and uint32, windows tile the stream") {
  TempDir d;
  std::vector<uint16_t> t16(100);
  for (int i = 0; i < 100; ++i) t16[i] = static_cast<uint16_t>(i);
  write_raw(d.file("a.bin"), t16);
  auto src = open_token_source(d.file("a.bin"), 256, 9, 0);
  at::Tensor s = src->samples(0, 3);
  CHECK(s[0][0].item<int64_t>() == 0);
  CHECK(s[1][0].item<int64_t>() == 9);  // next window starts where the last one's inputs end
  CHECK(s[2][9].item<int64_t>() == 27);
  CHECK(src->samples(11, 1)[0][0].item<int64_t>() == (11 * 9) % 91);  // wraps around
  std::vector<uint32_t> t32(50, 70000);
  write_raw(d.file("b.bin"), t32);
  CHECK(open_token_source(d.file("b.bin") + ":uint32", 70001, 8, 0)->samples(0, 1).max().item<int64_t>() == 70000);
}

TEST_CASE("indexed datasets: documents concatenated") {
  TempDir d;
  std::vector<uint16_t> tokens{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  write_raw(d.file("c.bin"), tokens);
  IndexedIndex idx;
  idx.sizes = {4, 6};
  idx.pointers = {0, 8};
  idx.doc_idx = {0, 1, 2};
  write_indexed_index(d.file("c.idx"), idx);
  IndexedIndex back = read_indexed_index(d.file("c.idx"));
  CHECK(back.sizes == idx.sizes);
  CHECK(back.pointers == idx.pointers);
  auto src = open_token_source(d.file("c.bin"), 16, 5, 0);
  CHECK(src->describe().find("indexed dataset") != std::string::npos);
  CHECK(src->samples(0, 1)[0][5].item<int64_t>() == 6);  // spans the document boundary
}

TEST_CASE("bad files are usage errors that name the file and the problem") {
  TempDir d;
  write_raw(d.file("big.bin"), std::vector<uint16_t>(64, 300));
  CHECK_THAT(usage_error(d.file("big.bin"), 256, 8), Catch::Contains("big.bin") && Catch::Contains("token id 300"));
  CHECK_THAT(usage_error(d.file("big.bin"), 1000, 64), Catch::Contains("fewer than one sample"));
  write_raw(d.file("odd.bin"), std::vector<uint8_t>(33, 1));
  CHECK_THAT(usage_error(d.file("odd.bin"), 256, 4), Catch::Contains("truncated"));
  CHECK_THAT(usage_error(d.file("missing.bin"), 256, 4), Catch::Contains("no such file"));
  CHECK_THAT(usage_error(d.file("big.bin") + ":int8", 256, 4), Catch::Contains("not a token type"));
  // Indexed: wrong magic, truncated index, .bin shorter than the index says.
  write_raw(d.file("m.bin"), std::vector<uint16_t>(16, 1));
  write_raw(d.file("m.idx"), std::vector<char>{'N', 'O', 'T', 'I', 'D', 'X', 0, 0, 0, 1, 0});
  CHECK_THAT(usage_error(d.file("m.bin"), 256, 4), Catch::Contains("m.idx") && Catch::Contains("magic"));
  IndexedIndex idx;
  idx.sizes = {16};
  idx.pointers = {0};
  idx.doc_idx = {0, 1};
  write_indexed_index(d.file("t.idx"), idx);
  std::ifstream in(d.file("t.idx"), std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_raw(d.file("t.bin"), std::vector<uint16_t>(16, 1));
  write_raw(d.file("t.idx"), std::vector<char>(all.begin(), all.end() - 5));
  CHECK_THAT(usage_error(d.file("t.bin"), 256, 4), Catch::Contains("truncated index"));
  write_indexed_index(d.file("t.idx"), idx);
  write_raw(d.file("t.bin"), std::vector<uint16_t>(12, 1));
  CHECK_THAT(usage_error(d.file("t.bin"), 256, 4), Catch::Contains("truncated"));
}
