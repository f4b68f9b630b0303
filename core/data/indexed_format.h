// Megatron-LM's indexed dataset index (.idx, magic "MMIDIDX\0\0", version 1), read and
// written. Layout, little-endian: magic[9], u64 version, u8 dtype code, u64 sequence count
// S, u64 document count D, i32 sizes[S] (tokens per sequence), i64 pointers[S] (byte
// offsets into .bin), i64 document index[D]. Dtype codes: 1 uint8, 2 int8, 3 int16,
// 4 int32, 5 int64, 8 uint16.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dtbench {

struct IndexedIndex {
  int dtype_code = 8;
  std::vector<int32_t> sizes;
  std::vector<int64_t> pointers;
  std::vector<int64_t> doc_idx;
};

// Bytes per token of a dtype code; 0 for codes that are not integer token types.
int indexed_token_bytes(int dtype_code);

// Reads and checks `idx_path` (magic, version, dtype, counts against the file size,
// pointers against sizes); throws UsageError naming the file and the problem.
IndexedIndex read_indexed_index(const std::string& idx_path);

// Writes `index` to `idx_path`; throws RuntimeFailure on I/O errors.
void write_indexed_index(const std::string& idx_path, const IndexedIndex& index);

}  // namespace dtbench
