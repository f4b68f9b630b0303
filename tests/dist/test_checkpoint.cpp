// Checkpoint pieces that are blocks of columns (row-parallel weights under tensor
// parallelism): every rank writes its block, any rank reads any block or flat range back,
// and pieces that leave a column uncovered are refused at save time.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>
#include <stdlib.h>

#include <string>

#include "core/report/errors.h"
#include "core/report/files.h"
#include "core/train/checkpoint.h"
#include "tests/dist/world_fixture.h"

using namespace dtbench;

namespace {

// A scratch folder every rank of this single-node test sees: rank 0 makes it, and removes
// it once every rank is done with it.
struct SharedDir {
  explicit SharedDir(ControlPlane& c) : ctl(c) {
    std::string made;
    if (ctl.rank() == 0) {
      char pattern[] = "/tmp/dtbench-ckpt-XXXXXX";
      made = ::mkdtemp(pattern);
    }
    path = ctl.all_gather(made)[0];
  }
  ~SharedDir() {
    ctl.all_gather("");
    if (ctl.rank() == 0) remove_tree(path);
  }
  ControlPlane& ctl;
  std::string path;
};

}  // namespace

TEST_CASE("checkpoint pieces as blocks of columns: written per rank, read as any block or range") {
  ControlPlane& ctl = test::comm().control();
  const int64_t n = ctl.size(), r = ctl.rank(), rows = 3, cols = 2 * n;
  const at::Tensor whole = at::arange(rows * cols, at::kFloat).view({rows, cols});
  const SharedDir scratch(ctl);
  const std::string dir = scratch.path;
  // Rank r holds columns [2r, 2r + 2): its block, row-major.
  const at::Tensor mine = whole.narrow(1, 2 * r, 2).contiguous();
  const std::string path =
      save_checkpoint(ctl, dir, "t-1steps", {{"w", mine, {rows, cols}, 0, {cols, 2 * r, 2}}}, nlohmann::json::object());

  std::string meta_text;
  {
    std::FILE* f = std::fopen((path + "/.metadata").c_str(), "r");
    REQUIRE(f != nullptr);
    char buf[4096];
    std::size_t k;
    while ((k = std::fread(buf, 1, sizeof buf, f)) > 0) meta_text.append(buf, k);
    std::fclose(f);
  }
  const CheckpointReader reader(path, nlohmann::json::parse(meta_text));
  CHECK(at::equal(reader.read("w"), whole.reshape({-1})));  // flat, whole
  // A flat range across rows and every rank's block.
  CHECK(at::equal(reader.read("w", 1, cols + 2), whole.reshape({-1}).narrow(0, 1, cols + 2)));
  // A block of columns that straddles the ranks' blocks, part of it.
  const ColumnBlock straddle{cols, 1, cols - 1};
  const at::Tensor want = whole.narrow(1, 1, cols - 1).reshape({-1});
  CHECK(at::equal(reader.read("w", 0, -1, straddle), want));
  CHECK(at::equal(reader.read("w", 2, want.numel() - 3, straddle), want.narrow(0, 2, want.numel() - 3)));
  // Another rank's own block.
  const int64_t other = (r + 1) % n;
  CHECK(at::equal(reader.read("w", 0, -1, {cols, 2 * other, 2}), whole.narrow(1, 2 * other, 2).reshape({-1})));
  CHECK_THROWS_AS(reader.read("w", 0, -1, {cols + 1, 0, 2}), CheckpointError);     // another split
  CHECK_THROWS_AS(reader.read("w", 0, -1, {cols, cols - 1, 2}), CheckpointError);  // beyond the columns
}

TEST_CASE("checkpoint pieces that leave a column uncovered are refused on every rank") {
  ControlPlane& ctl = test::comm().control();
  const int64_t n = ctl.size(), r = ctl.rank(), rows = 2, cols = 2 * n + 1;  // the last column: nobody's
  const SharedDir scratch(ctl);
  const std::string dir = scratch.path;
  const at::Tensor mine = at::zeros({rows, 2});
  CHECK_THROWS_AS(
      save_checkpoint(ctl, dir, "t-1steps", {{"w", mine, {rows, cols}, 0, {cols, 2 * r, 2}}}, nlohmann::json::object()),
      RuntimeFailure);
}
