// A tiny C API over libwebp's advanced decoder, for wasm/src/formats/webp-scaled.ts: decode a WebP still
// straight to the size (and region) the render plan needs, into a buffer the caller allocated here.
//
// Why not the simple API: WebPDecodeRGBA allocates the full-size RGBA raster (4 B/px). With use_scaling, a
// lossy (VP8) stream is decoded macroblock row by macroblock row through libwebp's rescaler, so the memory is
// the output plus a few rows of YUV cache (an ALPH plane, when present, is still kept at full width).
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "src/webp/decode.h"

// Buffers the loader writes the file into and reads the pixels from.
uint8_t* ws_alloc(size_t size) { return (uint8_t*)malloc(size); }
void ws_free(void* ptr) { free(ptr); }

// Decodes `data` (a whole WebP file) into `out`: the crop rect (in stored pixels; width 0 = no crop) scaled
// to `out_width` × `out_height`, with `channels` 3 (RGB) or 4 (RGBA, straight alpha), rows packed.
// Returns 0 on success, else libwebp's VP8StatusCode (3 = bitstream error, 7 = not enough data, ...).
int ws_decode(const uint8_t* data, size_t size,
              int crop_left, int crop_top, int crop_width, int crop_height,
              int out_width, int out_height, int channels, uint8_t* out) {
  WebPDecoderConfig config;
  if (!WebPInitDecoderConfig(&config)) return VP8_STATUS_INVALID_PARAM;
  if (channels != 3 && channels != 4) return VP8_STATUS_INVALID_PARAM;
  if (crop_width > 0 && crop_height > 0) {
    config.options.use_cropping = 1;
    config.options.crop_left = crop_left;
    config.options.crop_top = crop_top;
    config.options.crop_width = crop_width;
    config.options.crop_height = crop_height;
  }
  // At 1:1 no rescaler: libwebp turns its fancy (bilinear chroma) upsampling off whenever it scales.
  const int region_width = config.options.use_cropping ? crop_width : 0;
  const int region_height = config.options.use_cropping ? crop_height : 0;
  int width = region_width, height = region_height;
  if (!config.options.use_cropping && !WebPGetInfo(data, size, &width, &height)) return VP8_STATUS_BITSTREAM_ERROR;
  if (out_width != width || out_height != height) {
    config.options.use_scaling = 1;
    config.options.scaled_width = out_width;
    config.options.scaled_height = out_height;
  }
  config.output.colorspace = channels == 4 ? MODE_RGBA : MODE_RGB;
  config.output.is_external_memory = 1;
  config.output.u.RGBA.rgba = out;
  config.output.u.RGBA.stride = out_width * channels;
  config.output.u.RGBA.size = (size_t)out_width * (size_t)out_height * (size_t)channels;
  const VP8StatusCode status = WebPDecode(data, size, &config);
  WebPFreeDecBuffer(&config.output);  // external memory: frees nothing of ours
  return (int)status;
}
