#include "core/train/checkpoint.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include "core/report/checksum.h"
#include "core/report/clock.h"
#include "core/report/errors.h"
#include "core/report/files.h"
#include "core/report/log.h"
#include "core/report/result.h"

namespace dtbench {

namespace {

using nlohmann::json;

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
      t["pieces"].push_back(
          {{"file", e["file"]}, {"offset", e["offset"]}, {"start", e["start"]}, {"numel", e["numel"]}, {"crc32c", e["crc32c"]}});
    }
  }
  for (auto& [name, t] : tensors.items()) {
    auto& pieces = t["pieces"];
    std::sort(pieces.begin(), pieces.end(),
              [](const json& a, const json& b) { return a["start"].get<int64_t>() < b["start"].get<int64_t>(); });
    int64_t covered = 0;
    for (const json& p : pieces) {
      if (p["start"].get<int64_t>() != covered)
        throw RuntimeFailure(fmt::format("checkpoint: the pieces of {} overlap or leave a gap at element {}", name, covered));
      covered += p["numel"].get<int64_t>();
    }
    if (covered != numel_of(t["shape"].get<std::vector<int64_t>>()))
      throw RuntimeFailure(fmt::format("checkpoint: the pieces of {} cover {} elements of {}", name, covered,
                                       numel_of(t["shape"].get<std::vector<int64_t>>())));
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

std::string checkpoint_name(const std::string& prefix, int64_t steps) { return fmt::format("{}-{}steps", prefix, steps); }

std::string save_checkpoint(ControlPlane& ctl, const std::string& dir, const std::string& name,
                            const std::vector<CheckpointPiece>& mine, const json& state) {
  const std::string tmp = dir + "/.tmp-" + name, final_path = dir + "/" + name;
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
      const json meta = {{"format", kCheckpointFormat}, {"name", name},
                         {"created_at", utc_iso8601_now()}, {"world_size", ctl.size()},
                         {"state", state},          {"files", files},
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

CheckpointReader::CheckpointReader(std::string path, json metadata) : path_(std::move(path)), meta_(std::move(metadata)) {
  if (!meta_.is_object() || meta_.value("format", "") != kCheckpointFormat || !meta_.contains("tensors") ||
      !meta_.contains("state"))
    throw CheckpointError(fmt::format(".metadata is not a {} record", kCheckpointFormat));
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

at::Tensor CheckpointReader::read(const std::string& name, int64_t start, int64_t count) const {
  const json& e = entry(name);
  const auto dtype_it = dtypes().find(e.at("dtype").get<std::string>());
  if (dtype_it == dtypes().end()) throw CheckpointError(fmt::format("{} has an unknown dtype", name));
  const int64_t total = numel_of(e.at("shape").get<std::vector<int64_t>>());
  if (count < 0) count = total - start;
  if (start < 0 || start + count > total)
    throw CheckpointError(fmt::format("{} has {} elements; asked for [{}, {})", name, total, start, start + count));
  at::Tensor out = at::empty({count}, at::TensorOptions().dtype(dtype_it->second));
  const int64_t esize = static_cast<int64_t>(out.element_size());
  for (const json& p : e.at("pieces")) {
    const int64_t p_start = p.at("start").get<int64_t>(), p_numel = p.at("numel").get<int64_t>();
    const int64_t lo = std::max(start, p_start), hi = std::min(start + count, p_start + p_numel);
    if (lo >= hi) continue;
    // The whole piece is read so that its checksum can be verified.
    const std::string file = path_ + "/" + p.at("file").get<std::string>();
    at::Tensor bytes = at::empty({p_numel * esize}, at::kByte);
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw CheckpointError(fmt::format("cannot open {}: {}", file, std::strerror(errno)));
    auto* dst = static_cast<char*>(bytes.data_ptr());
    int64_t done = 0, off = p.at("offset").get<int64_t>();
    while (done < bytes.numel()) {
      const ssize_t n = ::pread(fd, dst + done, static_cast<std::size_t>(bytes.numel() - done), off + done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += n;
    }
    ::close(fd);
    if (done != bytes.numel()) throw CheckpointError(fmt::format("{} is truncated (piece of {} at byte {})", file, name, off));
    if (crc32c(dst, static_cast<std::size_t>(done)) != p.at("crc32c").get<uint32_t>())
      throw CheckpointError(fmt::format("{}: checksum mismatch in {} (bytes {}..{})", file, name, off, off + done));
    out.slice(0, lo - start, hi - start).copy_(bytes.view(out.scalar_type()).slice(0, lo - p_start, hi - p_start));
  }
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
    const std::string path = dir + "/" + c.get<std::string>();
    std::string status;
    try {
      std::ifstream in(path + "/.metadata");
      if (!in) throw CheckpointError("incomplete: no .metadata (the save did not finish)");
      json meta = json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (meta.is_discarded()) throw CheckpointError(".metadata is not valid JSON");
      const CheckpointReader reader(path, std::move(meta));
      stage(reader);
    } catch (const CheckpointError& e) {
      status = e.what();
    } catch (const nlohmann::json::exception& e) {
      status = fmt::format(".metadata is malformed ({})", e.what());
    } catch (const UsageError&) {
      throw;  // the run does not fit this checkpoint (every rank sees the same .metadata)
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
