/*
 * tfevents — TensorBoard's event files, written here with no TensorFlow: scalars as
 * `Event` protocol buffers in a TFRecord stream (`r1flow metrics --tensorboard`).
 *
 * The file is a sequence of records, each
 *
 *   uint64  length of the data, little-endian
 *   uint32  masked CRC32C of those 8 length bytes
 *   bytes   the data: one serialized Event
 *   uint32  masked CRC32C of the data
 *
 * with CRC32C the Castagnoli CRC (reflected polynomial 0x82F63B78; the CRC of the
 * nine bytes "123456789" is 0xE3069283) and the mask ((crc >> 15) | (crc << 17)) +
 * 0xa282ead8, which TFRecord adds so that a CRC of data holding CRCs stays useful.
 *
 * The Events, as tensorboard/compat/proto/event.proto and summary.proto number their
 * fields (proto3; what is written, nothing else):
 *
 *   Event    { double wall_time = 1; int64 step = 2;
 *              oneof what { string file_version = 3; Summary summary = 5; } }
 *   Summary  { repeated Value value = 1; }
 *   Value    { string tag = 1; oneof value { float simple_value = 2; } }
 *
 * The first record is an Event with file_version "brain.Event:2" (how TensorBoard
 * recognises the file); then one Event per scalar. wall_time is seconds since the
 * epoch; TensorBoard plots against step by default and offers wall time as an axis.
 *
 * The bytes are built in a struct tfevents_buf (a growing buffer, the caller's;
 * tfevents_buf_release frees it), so a file is written whole or not at all:
 *
 *   struct tfevents_buf b = { 0 };
 *   tfevents_file_version(&b, now_s, err);
 *   tfevents_scalar(&b, ts_s, step, "zero/reward_mean", 0.25f, err);
 *   ... write b.data[0..b.len) ...
 *   tfevents_buf_release(&b);
 *
 * Errors (-1 with err) are only out of memory or a tag too long for one record.
 */
#ifndef R1_TFEVENTS_H
#define R1_TFEVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define TFEVENTS_FILE_VERSION "brain.Event:2"
#define TFEVENTS_TAG_MAX      4096   /* bytes of a tag; longer ones are refused */

/* The CRC32C of data[0..n), continuing `crc` (0 for a fresh one). */
uint32_t tfevents_crc32c(uint32_t crc, const void *data, size_t n);

/* TFRecord's mask over a CRC32C. */
uint32_t tfevents_mask(uint32_t crc);

struct tfevents_buf {
	uint8_t *data;
	size_t len, cap;
};

/* Append one record framing data[0..n). */
int tfevents_record(struct tfevents_buf *b, const void *data, size_t n, struct err *err);

/* Append the first record: an Event with wall_time and file_version "brain.Event:2". */
int tfevents_file_version(struct tfevents_buf *b, double wall_time, struct err *err);

/* Append an Event at (wall_time, step) whose Summary holds one Value {tag,
 * simple_value}. */
int tfevents_scalar(struct tfevents_buf *b, double wall_time, int64_t step, const char *tag,
	float value, struct err *err);

void tfevents_buf_release(struct tfevents_buf *b);

#endif
