// CRC-32C (Castagnoli), the checksum of checkpoint pieces. Our own table-driven code
// (slicing by 8, ~1-2 GB/s) so that nothing beyond libtorch is needed to verify a file.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dtbench {

// The CRC of `data` continuing from `crc` (0 to start): crc32c(b, crc32c(a)) = crc32c(ab).
uint32_t crc32c(const void* data, std::size_t size, uint32_t crc = 0);

}  // namespace dtbench
