/* CRC-32C (Castagnoli), as used by iSCSI/ext4: init ~0, reflected, final ~.
 * crc32c("123456789") == 0xE3069283. */
#ifndef SM_COMMON_CRC32C_H
#define SM_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t sm_crc32c(const void *data, size_t len);
/* Continue a running CRC: sm_crc32c_update(0, ...) == sm_crc32c(...). */
uint32_t sm_crc32c_update(uint32_t crc, const void *data, size_t len);

#endif
