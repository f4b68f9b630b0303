#include "core/data/indexed_format.h"

#include <fmt/format.h>

#include <cstring>
#include <fstream>

#include "core/report/errors.h"
#include "core/report/regular_file.h"

namespace dtbench {

namespace {
constexpr char kMagic[9] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', '\0', '\0'};

template <typename T>
void put(std::ofstream& out, const T& v) {
  out.write(reinterpret_cast<const char*>(&v), sizeof v);
}
}  // namespace

int indexed_token_bytes(int code) {
  switch (code) {
    case 1:
    case 2:
      return 1;
    case 3:
    case 8:
      return 2;
    case 4:
      return 4;
    case 5:
      return 8;
    default:
      return 0;
  }
}

IndexedIndex read_indexed_index(const std::string& path) {
  const RegularFile file(path);
  DT_USAGE(file.ok(), "{}: the index (.idx) of the indexed dataset: {}", path, file.error());
  int64_t pos = 0;
  auto take = [&](void* dst, int64_t n, const char* what) {
    DT_USAGE(pos + n <= file.size(), "{}: truncated index: it ends inside the {} ({} bytes); rebuild it", path, what,
             file.size());
    const std::string why = file.read_at(dst, n, pos);
    DT_USAGE(why.empty(), "{}: reading the {}: {}", path, what, why);
    pos += n;
  };
  char magic[9];
  take(magic, 9, "magic");
  DT_USAGE(std::memcmp(magic, kMagic, 9) == 0,
           "{}: not a Megatron indexed dataset index (magic is not MMIDIDX); pass the .bin of a Megatron dataset, or a "
           "flat token file without an .idx beside it",
           path);
  uint64_t version = 0, count = 0, docs = 0;
  uint8_t code = 0;
  take(&version, 8, "version");
  DT_USAGE(version == 1, "{}: index version {} is not 1; rebuild it with Megatron-LM's preprocess_data.py", path,
           version);
  take(&code, 1, "dtype code");
  DT_USAGE(indexed_token_bytes(code) > 0, "{}: dtype code {} is not an integer token type (1-5 or 8)", path, code);
  take(&count, 8, "sequence count");
  take(&docs, 8, "document count");
  // The counts against the file's length before anything is allocated for them (2^40 keeps
  // the byte counts below far from overflow). Longer is allowed: megatron-core may append
  // a per-sequence mode byte (multimodal datasets).
  const uint64_t needed = static_cast<uint64_t>(pos) + 12 * count + 8 * docs;
  DT_USAGE(count < (1ULL << 40) && docs < (1ULL << 40) && needed <= static_cast<uint64_t>(file.size()),
           "{}: truncated index: it claims {} sequences and {} documents ({} bytes), but the file holds {} bytes; "
           "rebuild it",
           path, count, docs, count < (1ULL << 40) && docs < (1ULL << 40) ? fmt::format("{}", needed) : "too many",
           file.size());
  IndexedIndex idx;
  idx.dtype_code = code;
  idx.sizes.resize(count);
  idx.pointers.resize(count);
  idx.doc_idx.resize(docs);
  take(idx.sizes.data(), static_cast<int64_t>(count * 4), "sizes");
  take(idx.pointers.data(), static_cast<int64_t>(count * 8), "pointers");
  take(idx.doc_idx.data(), static_cast<int64_t>(docs * 8), "document index");
  const int tb = indexed_token_bytes(code);
  int64_t expect = 0;
  for (uint64_t i = 0; i < count; ++i) {
    DT_USAGE(idx.sizes[i] >= 0 && idx.pointers[i] == expect,
             "{}: sequence {} has size {} at byte {}, expected byte {}; the index is corrupt", path, i, idx.sizes[i],
             idx.pointers[i], expect);
    expect += static_cast<int64_t>(idx.sizes[i]) * tb;
  }
  return idx;
}

void write_indexed_index(const std::string& path, const IndexedIndex& idx) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw RuntimeFailure(fmt::format("cannot write {}", path));
  out.write(kMagic, 9);
  put(out, uint64_t{1});
  put(out, static_cast<uint8_t>(idx.dtype_code));
  put(out, static_cast<uint64_t>(idx.sizes.size()));
  put(out, static_cast<uint64_t>(idx.doc_idx.size()));
  out.write(reinterpret_cast<const char*>(idx.sizes.data()), static_cast<std::streamsize>(idx.sizes.size() * 4));
  out.write(reinterpret_cast<const char*>(idx.pointers.data()), static_cast<std::streamsize>(idx.pointers.size() * 8));
  out.write(reinterpret_cast<const char*>(idx.doc_idx.data()), static_cast<std::streamsize>(idx.doc_idx.size() * 8));
  if (!out) throw RuntimeFailure(fmt::format("cannot write {}", path));
}

}  // namespace dtbench
