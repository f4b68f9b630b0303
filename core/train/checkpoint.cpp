#include "core/train/checkpoint.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>

#include "core/report/checksum.h"
#include "core/report/clock.h"
#include "core/report/errors.h"
#include "core/report/files.h"
#include "core/report/log.h"
#include "core/report/regular_file.h"
#include "core/report/result.h"

namespace dtbench {

namespace {

using nlohmann::json;

// Far above any real .metadata (a few hundred bytes per tensor piece), far below memory.
constexpr int64_t kMaxMetadataBytes = int64_t{1} << 30;

const std::map<std::string, at::ScalarType>& dtypes() {
  static const std::map<std::string, at::ScalarType> m = {
      {"float32", at::kFloat}, {"float64", at::kDouble}, {"bfloat16", at::kBFloat16}, {"float16", at::kHalf},
      {"int64", at::kLong},    {"int32", at::kInt},      {"uint8", at::kByte}};
  return m;
}

std::string dtype_name(at::ScalarType t) {
  for (const auto& [name, type] : dtypes())
    if (type == t) return name;
  throw RuntimeFailure(fmt::format("checkpoint: tensors of type {} are not supported", c10::toString(t)));
}

int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string rank_file(int rank) { return fmt::format("rank{:05d}.bin", rank); }

// A tensor of `numel` elements seen as rows of `cols`; a block is columns [first, first +
// width) of every row. The flat tensor is one block of all columns.
struct Grid {
  int64_t cols, first, width;
};

// The grid of a piece or a read: its own block, or every column of the `cols` the tensor's
// other blocks use (the whole tensor as one row when none does).
Grid grid_of(const ColumnBlock& b, int64_t cols) {
  return b.cols > 0 ? Grid{b.cols, b.first, b.width} : Grid{cols, 0, cols};
}

// The column count a tensor's pieces are split by, or `fallback` when none is split.
int64_t columns_of(const json& pieces, int64_t fallback) {
  for (const json& p : pieces)
    if (p.contains("cols")) return p.at("cols").get<int64_t>();
  return fallback;
}

ColumnBlock block_of(const json& piece) {
  if (!piece.contains("cols")) return {};
  return {piece.at("cols").get<int64_t>(), piece.at("first").get<int64_t>(), piece.at("width").get<int64_t>()};
}

// Calls copy(a_index, b_index, count) for every run of elements that elements [as, as + an)
// of block `a` and [bs, bs + bn) of block `b` (on one grid) share; indices within each range.
template <typename Copy>
void shared_runs(const Grid& a, int64_t as, int64_t an, const Grid& b, int64_t bs, int64_t bn, Copy copy) {
  if (an <= 0 || bn <= 0 || a.width <= 0 || b.width <= 0) return;
  const int64_t row_lo = std::max(as / a.width, bs / b.width);
  const int64_t row_hi = std::min((as + an - 1) / a.width, (bs + bn - 1) / b.width);
  for (int64_t r = row_lo; r <= row_hi; ++r) {
    // The columns of row r each range holds.
    const int64_t a_lo = a.first + std::max(as, r * a.width) - r * a.width;
    const int64_t a_hi = a.first + std::min(as + an, (r + 1) * a.width) - r * a.width;
    const int64_t b_lo = b.first + std::max(bs, r * b.width) - r * b.width;
    const int64_t b_hi = b.first + std::min(bs + bn, (r + 1) * b.width) - r * b.width;
    const int64_t lo = std::max(a_lo, b_lo), hi = std::min(a_hi, b_hi);
    if (lo < hi) copy(r * a.width + (lo - a.first) - as, r * b.width + (lo - b.first) - bs, hi - lo);
  }
}

// Writes this rank's pieces to <tmp>/rank<R>.bin and fsyncs it; returns their entries.
json write_rank_file(const std::string& tmp, int rank, const std::vector<CheckpointPiece>& mine) {
  const std::string file = rank_file(rank);
  const std::string path = tmp + "/" + file;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw RuntimeFailure(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  json entries = json::array();
  int64_t offset = 0;
  for (const CheckpointPiece& p : mine) {
    const at::Tensor t = p.values.detach().to(at::kCPU).contiguous().reshape({-1});
    const auto bytes = static_cast<std::size_t>(t.numel()) * t.element_size();
    const std::string failed = write_fully(fd, t.data_ptr(), bytes);
    if (!failed.empty()) {
      ::close(fd);
      throw RuntimeFailure(fmt::format("cannot write {}: {}", path, failed));
    }
    entries.push_back({{"name", p.name},
                       {"dtype", dtype_name(t.scalar_type())},
                       {"shape", p.shape},
                       {"file", file},
                       {"offset", offset},
                       {"start", p.start},
                       {"numel", t.numel()},
                       {"crc32c", crc32c(t.data_ptr(), bytes)}});
    if (p.block.cols > 0) {
      entries.back()["cols"] = p.block.cols;
      entries.back()["first"] = p.block.first;
      entries.back()["width"] = p.block.width;
    }
    offset += static_cast<int64_t>(bytes);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    throw RuntimeFailure(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  return entries;
}

// Rank 0: every rank's piece entries into the metadata's tensor table; checks that the
// pieces of each tensor cover it exactly once.
json merge_pieces(const std::vector<std::string>& per_rank) {
  json tensors = json::object();
  for (const std::string& text : per_rank) {
    for (const json& e : json::parse(text)) {
      json& t = tensors[e["name"].get<std::string>()];
      if (t.is_null()) t = {{"dtype", e["dtype"]}, {"shape", e["shape"]}, {"pieces", json::array()}};
      if (t["dtype"] != e["dtype"] || t["shape"] != e["shape"])
        throw RuntimeFailure(fmt::format("checkpoint: ranks disagree on the dtype or shape of {}", e["name"].dump()));
      json piece = {{"file", e["file"]},
                    {"offset", e["offset"]},
                    {"start", e["start"]},
                    {"numel", e["numel"]},
                    {"crc32c", e["crc32c"]}};
      for (const char* key : {"cols", "first", "width"})
        if (e.contains(key)) piece[key] = e[key];
      t["pieces"].push_back(std::move(piece));
    }
  }
  // Every tensor is covered exactly once: its blocks (one, the flat tensor, unless it was
  // split by columns) tile its columns, and each block's pieces tile the block.
  for (auto& [name, t] : tensors.items()) {
    const int64_t total = numel_of(t["shape"].get<std::vector<int64_t>>());
    if (total == 0) continue;
    auto& pieces = t["pieces"];
    const int64_t cols = columns_of(pieces, total);
    if (cols <= 0 || total % cols != 0)
      throw RuntimeFailure(
          fmt::format("checkpoint: {} ({} elements) does not split into rows of {}", name, total, cols));
    std::sort(pieces.begin(), pieces.end(), [&](const json& a, const json& b) {
      const Grid ga = grid_of(block_of(a), cols), gb = grid_of(block_of(b), cols);
      return std::make_pair(ga.first, a["start"].get<int64_t>()) < std::make_pair(gb.first, b["start"].get<int64_t>());
    });
    int64_t column = 0, covered = 0, in_block = 0;
    Grid block{cols, -1, 0};
    for (const json& p : pieces) {
      const Grid g = grid_of(block_of(p), cols);
      if (g.cols != cols)
        throw RuntimeFailure(fmt::format("checkpoint: the pieces of {} split it by columns in different ways", name));
      if (g.first != block.first) {  // the next block of columns starts where the last ended
        if (block.first >= 0 && in_block != total / cols * block.width)
          throw RuntimeFailure(fmt::format("checkpoint: the pieces of {} leave a gap in columns [{}, {})", name,
                                           block.first, block.first + block.width));
        if (g.first != column)
          throw RuntimeFailure(
              fmt::format("checkpoint: the column blocks of {} overlap or leave a gap at column {}", name, column));
        block = g;
        column += g.width;
        in_block = 0;
      }
      if (g.width != block.width || p["start"].get<int64_t>() != in_block)
        throw RuntimeFailure(
            fmt::format("checkpoint: the pieces of {} overlap or leave a gap at element {} of columns "
                        "[{}, {})",
                        name, in_block, block.first, block.first + block.width));
      in_block += p["numel"].get<int64_t>();
      covered += p["numel"].get<int64_t>();
    }
    if (covered != total || column != cols || in_block != total / cols * block.width)
      throw RuntimeFailure(fmt::format("checkpoint: the pieces of {} cover {} elements of {}", name, covered, total));
  }
  return tensors;
}

// Raises on every rank when any rank's status is not empty.
void agree(ControlPlane& ctl, const std::string& status, const std::string& what) {
  const auto all = ctl.all_gather(status);
  for (std::size_t r = 0; r < all.size(); ++r)
    if (!all[r].empty()) throw RuntimeFailure(fmt::format("{}: rank {}: {}", what, r, all[r]));
}

// The step count of "<prefix>-<N>steps", or -1.
int64_t steps_of(const std::string& entry, const std::string& prefix) {
  const std::string head = prefix + "-", tail = "steps";
  if (entry.size() <= head.size() + tail.size() || entry.compare(0, head.size(), head) != 0 ||
      entry.compare(entry.size() - tail.size(), tail.size(), tail) != 0)
    return -1;
  const std::string digits = entry.substr(head.size(), entry.size() - head.size() - tail.size());
  if (digits.empty() || digits.size() > 15 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return -1;
  return std::stoll(digits);
}

}  // namespace

std::string checkpoint_name(const std::string& prefix, int64_t steps) {
  return fmt::format("{}-{}steps", prefix, steps);
}

std::string save_checkpoint(ControlPlane& ctl, const std::string& dir, const std::string& name,
                            const std::vector<CheckpointPiece>& mine, const json& state) {
  const std::string tmp = dir + "/.tmp-" + name;
  std::string final_path = dir + "/" + name;
  const std::string what = fmt::format("checkpoint {} not saved", final_path);
  std::string status;
  if (ctl.rank() == 0) {
    remove_tree(tmp);  // left by a save that was cut short
    status = make_dirs(tmp);
  }
  agree(ctl, status, what);

  json entries;
  status.clear();
  try {
    entries = write_rank_file(tmp, ctl.rank(), mine);
  } catch (const std::exception& e) {
    status = e.what();
  }
  agree(ctl, status, what);
  const auto per_rank = ctl.all_gather(entries.dump());

  status.clear();
  if (ctl.rank() == 0) {
    try {
      json files = json::array();
      for (int r = 0; r < ctl.size(); ++r) files.push_back(rank_file(r));
      const json meta = {{"format", kCheckpointFormat},      {"name", name},   {"created_at", utc_iso8601_now()},
                         {"world_size", ctl.size()},         {"state", state}, {"files", files},
                         {"tensors", merge_pieces(per_rank)}};
      write_json_atomic(tmp + "/.metadata", meta);  // last: marks the folder complete
      // A checkpoint of the same name (a rerun) is replaced by renames only.
      const std::string old = dir + "/.old-" + name;
      remove_tree(old);
      if (::rename(final_path.c_str(), old.c_str()) != 0 && errno != ENOENT)
        throw RuntimeFailure(fmt::format("cannot move the old {} aside: {}", final_path, std::strerror(errno)));
      if (::rename(tmp.c_str(), final_path.c_str()) != 0)
        throw RuntimeFailure(fmt::format("cannot rename {} to {}: {}", tmp, final_path, std::strerror(errno)));
      fsync_dir(dir);
      remove_tree(old);
    } catch (const std::exception& e) {
      status = e.what();
    }
  }
  agree(ctl, status, what);
  return final_path;
}

namespace {

// `v` (the value called `name`; nullptr when missing) as an integer in [lo, hi], or
// CheckpointError naming `what` and `name`.
int64_t bounded(const json* v, const std::string& name, int64_t lo, int64_t hi, const std::string& what) {
  const bool integer = v != nullptr && v->is_number_integer() &&
                       (!v->is_number_unsigned() || v->get<uint64_t>() <= static_cast<uint64_t>(hi));
  if (!integer || v->get<int64_t>() < lo || v->get<int64_t>() > hi)
    throw CheckpointError(fmt::format("{}: '{}' is {}, not an integer in [{}, {}]", what, name,
                                      v != nullptr ? v->dump() : "missing", lo, hi));
  return v->get<int64_t>();
}

// The field `key` of the object `j` the same way.
int64_t bounded(const json& j, const char* key, int64_t lo, int64_t hi, const std::string& what) {
  return bounded(j.is_object() && j.contains(key) ? &j.at(key) : nullptr, key, lo, hi, what);
}

bool is_rank_file(const std::string& file) {
  return file.size() == rank_file(0).size() && file.rfind("rank", 0) == 0 && file.substr(9) == ".bin" &&
         std::all_of(file.begin() + 4, file.begin() + 9, [](char c) { return c >= '0' && c <= '9'; });
}

// One tensor's entry, checked whole before anything is read or allocated: a crafted
// .metadata may name any file and any number. Pieces name only the files a save writes
// (rank<NNNNN>.bin, inside the checkpoint's folder); every count, offset and product is
// checked in 64 bits, so the reads neither wrap nor leave the file (whose real length
// read_piece checks).
void check_entry(const std::string& name, const json& t) {
  const std::string what = fmt::format("tensor {}", name);
  if (!t.is_object() || !t.contains("dtype") || !t.at("dtype").is_string() ||
      dtypes().count(t.at("dtype").get<std::string>()) == 0)
    throw CheckpointError(fmt::format("{} has no known dtype", what));
  const auto esize = static_cast<int64_t>(c10::elementSize(dtypes().at(t.at("dtype").get<std::string>())));
  const int64_t max_elements = std::numeric_limits<int64_t>::max() / esize;
  if (!t.contains("shape") || !t.at("shape").is_array() || t.at("shape").size() > 16)
    throw CheckpointError(fmt::format("{} has no shape of at most 16 dimensions", what));
  int64_t total = 1;
  for (std::size_t d = 0; d < t.at("shape").size(); ++d) {
    const int64_t extent = bounded(&t.at("shape").at(d), fmt::format("shape[{}]", d), 0, max_elements, what);
    if (extent != 0 && total > max_elements / extent)
      throw CheckpointError(
          fmt::format("{}: its shape {} has more than {} elements", what, t.at("shape").dump(), max_elements));
    total *= extent;
  }
  if (!t.contains("pieces") || !t.at("pieces").is_array())
    throw CheckpointError(fmt::format("{} has no list of pieces", what));
  for (const json& p : t.at("pieces")) {
    const bool named = p.is_object() && p.contains("file") && p.at("file").is_string();
    if (!named || !is_rank_file(p.at("file").get<std::string>()))
      throw CheckpointError(fmt::format("{}: a piece names the file {}, not a rank<NNNNN>.bin of this checkpoint", what,
                                        named ? p.at("file").dump() : "(none)"));
    int64_t block = total;
    if (p.contains("cols")) {
      const int64_t cols = bounded(p, "cols", 1, std::max<int64_t>(total, 1), what);
      const int64_t first = bounded(p, "first", 0, cols - 1, what);
      const int64_t width = bounded(p, "width", 1, cols - first, what);
      if (total % cols != 0) throw CheckpointError(fmt::format("{}: {} elements are no rows of {}", what, total, cols));
      block = total / cols * width;
    }
    const int64_t start = bounded(p, "start", 0, block, what);
    const int64_t numel = bounded(p, "numel", 0, block - start, what);
    bounded(p, "offset", 0, std::numeric_limits<int64_t>::max() - numel * esize, what);
    bounded(p, "crc32c", 0, std::numeric_limits<uint32_t>::max(), what);
  }
}

}  // namespace

CheckpointReader::CheckpointReader(std::string path, json metadata)
    : path_(std::move(path)), meta_(std::move(metadata)) {
  if (!meta_.is_object() || meta_.value("format", "") != kCheckpointFormat || !meta_.contains("tensors") ||
      !meta_.at("tensors").is_object() || !meta_.contains("state"))
    throw CheckpointError(fmt::format(".metadata is not a {} record", kCheckpointFormat));
  for (const auto& [name, entry] : meta_.at("tensors").items()) check_entry(name, entry);
}

const json& CheckpointReader::entry(const std::string& name) const {
  const json& tensors = meta_.at("tensors");
  auto it = tensors.find(name);
  if (it == tensors.end()) throw CheckpointError(fmt::format("it holds no tensor {}", name));
  return *it;
}

std::vector<int64_t> CheckpointReader::shape(const std::string& name) const {
  return entry(name).at("shape").get<std::vector<int64_t>>();
}

at::Tensor CheckpointReader::read_piece(const json& piece, int64_t nbytes, const std::string& name) const {
  const RegularFile file(path_ + "/" + piece.at("file").get<std::string>());
  const int64_t off = piece.at("offset").get<int64_t>();  // check_entry: off + nbytes does not overflow
  if (!file.ok()) throw CheckpointError(fmt::format("{}: {}", file.path(), file.error()));
  // Checked against the file's length before anything is allocated.
  if (off + nbytes > file.size())
    throw CheckpointError(fmt::format("{} is truncated: {} bytes, and the piece of {} needs bytes [{}, {})",
                                      file.path(), file.size(), name, off, off + nbytes));
  at::Tensor bytes = at::empty({nbytes}, at::kByte);
  auto* dst = static_cast<char*>(bytes.data_ptr());
  if (std::string why = file.read_at(dst, nbytes, off); !why.empty())
    throw CheckpointError(fmt::format("{} (the piece of {}): {}", file.path(), name, why));
  if (crc32c(dst, static_cast<std::size_t>(nbytes)) != piece.at("crc32c").get<uint32_t>())
    throw CheckpointError(
        fmt::format("{}: checksum mismatch in {} (bytes {}..{})", file.path(), name, off, off + nbytes));
  return bytes;
}

at::Tensor CheckpointReader::read(const std::string& name, int64_t start, int64_t count,
                                  const ColumnBlock& block) const {
  const json& e = entry(name);
  const auto dtype_it = dtypes().find(e.at("dtype").get<std::string>());
  if (dtype_it == dtypes().end()) throw CheckpointError(fmt::format("{} has an unknown dtype", name));
  const int64_t total = numel_of(e.at("shape").get<std::vector<int64_t>>());
  if (total == 0 && start == 0 && count <= 0) return at::empty({0}, at::TensorOptions().dtype(dtype_it->second));
  // One grid for the request and every piece: the columns any of them is split by.
  const int64_t cols = columns_of(e.at("pieces"), block.cols > 0 ? block.cols : total);
  const Grid want = grid_of(block, cols);
  if (cols <= 0 || total % cols != 0 || want.cols != cols || want.first < 0 || want.width < 0 ||
      want.first + want.width > cols)
    throw CheckpointError(fmt::format("{} ({} elements, stored in rows of {}) has no block of columns [{}, {}) of {}",
                                      name, total, cols, want.first, want.first + want.width, want.cols));
  const int64_t size = total / cols * want.width;  // elements of the block asked from
  if (count < 0) count = size - start;
  if (start < 0 || count < 0 || start + count > size)
    throw CheckpointError(
        fmt::format("{} has {} elements there; asked for [{}, {})", name, size, start, start + count));
  at::Tensor out = at::empty({count}, at::TensorOptions().dtype(dtype_it->second));
  const int64_t esize = static_cast<int64_t>(out.element_size());
  auto* out_bytes = static_cast<char*>(out.data_ptr());
  int64_t filled = 0;
  for (const json& p : e.at("pieces")) {
    const int64_t p_start = p.at("start").get<int64_t>(), p_numel = p.at("numel").get<int64_t>();
    const Grid have = grid_of(block_of(p), cols);
    if (have.cols != cols)
      throw CheckpointError(fmt::format("{}: its pieces are split by columns in different ways", name));
    // A piece is read whole, once, when it holds something asked for: its checksum covers it all.
    at::Tensor bytes;
    shared_runs(want, start, count, have, p_start, p_numel, [&](int64_t to, int64_t from, int64_t n) {
      if (!bytes.defined()) bytes = read_piece(p, p_numel * esize, name);
      std::memcpy(out_bytes + to * esize, static_cast<const char*>(bytes.data_ptr()) + from * esize,
                  static_cast<std::size_t>(n * esize));
      filled += n;
    });
  }
  if (filled != count)
    throw CheckpointError(fmt::format("{}: its pieces hold {} of the {} elements asked for", name, filled, count));
  return out;
}

std::string load_latest_checkpoint(ControlPlane& ctl, const std::string& dir, const std::string& prefix,
                                   const std::function<void(const CheckpointReader&)>& stage) {
  // Rank 0's listing is everyone's, so that all ranks try the same candidates in order.
  std::string listing;
  if (ctl.rank() == 0) {
    std::vector<std::pair<int64_t, std::string>> found;
    for (const std::string& entry : list_dir(dir)) {
      const int64_t steps = steps_of(entry, prefix);
      if (steps >= 0) found.emplace_back(steps, entry);
      if (entry.rfind(".tmp-" + prefix + "-", 0) == 0)
        logf("checkpoint {}/{} ignored: a save that did not finish (no rename)", dir, entry);
    }
    std::sort(found.rbegin(), found.rend());
    json names = json::array();
    for (auto& f : found) names.push_back(f.second);
    listing = names.dump();
  }
  const json candidates = json::parse(ctl.all_gather(listing)[0]);
  for (const auto& c : candidates) {
    std::string path = dir + "/" + c.get<std::string>();
    std::string status;
    try {
      std::string text;
      if (::access((path + "/.metadata").c_str(), F_OK) != 0)
        throw CheckpointError("incomplete: no .metadata (the save did not finish)");
      if (std::string why = read_regular_file(path + "/.metadata", kMaxMetadataBytes, &text); !why.empty())
        throw CheckpointError(".metadata: " + why);
      json meta = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (meta.is_discarded()) throw CheckpointError(".metadata is not valid JSON");
      const CheckpointReader reader(path, std::move(meta));
      stage(reader);
    } catch (const CheckpointError& e) {
      status = e.what();
    } catch (const nlohmann::json::exception& e) {
      status = fmt::format(".metadata is malformed ({})", e.what());
    } catch (const UsageError&) {
      throw;                             // the run does not fit this checkpoint (every rank sees the same .metadata)
    } catch (const std::exception& e) {  // e.g. a tensor whose shape does not fit: the candidate is unusable
      status = e.what();
    }
    const auto all = ctl.all_gather(status);
    std::string first_bad;
    for (std::size_t r = 0; r < all.size() && first_bad.empty(); ++r)
      if (!all[r].empty()) first_bad = fmt::format("rank {}: {}", r, all[r]);
    if (first_bad.empty()) return path;
    if (ctl.rank() == 0) logf("checkpoint {} skipped: {}", path, first_bad);
  }
  return "";
}

}  // namespace dtbench
