#!/bin/sh
# Builds webp_scaled.wasm: libwebp's decoder (src/dec, src/dsp, src/utils; no encoder, no mux/demux) and our
# webp_scaled.c, as a standalone wasm module (no emscripten JS glue; wasm/src/codecs/webp-scaled.ts loads it).
#
# Fetches nothing. Used for the committed build:
#   emscripten 3.1.6 (Debian bookworm package `emscripten` 3.1.6~dfsg-5)
#   libwebp 1.2.4, Debian bookworm source package libwebp 1.2.4-0.2+deb12u1, which carries Debian's patches
#   CVE-2023-4863.patch (the VP8L Huffman table overflow, upstream 902bc919) and
#   EncodeAlphaInternal-clear-result-bw-on-error.patch (encoder only: not compiled here).
# To rebuild: add a deb-src entry for bookworm main, then
#   apt-get install emscripten && cd /tmp && apt-get source libwebp
#   LIBWEBP=/tmp/libwebp-1.2.4 sh wasm/native/webp-scaled/build.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=${LIBWEBP:?set LIBWEBP to the unpacked libwebp 1.2.4 source tree}
cd "$src"
files="$(ls src/dec/*.c) \
  src/dsp/alpha_processing.c src/dsp/cpu.c src/dsp/dec.c src/dsp/dec_clip_tables.c src/dsp/filters.c \
  src/dsp/lossless.c src/dsp/rescaler.c src/dsp/upsampling.c src/dsp/yuv.c \
  src/dsp/alpha_processing_sse2.c src/dsp/dec_sse2.c src/dsp/filters_sse2.c src/dsp/lossless_sse2.c \
  src/dsp/rescaler_sse2.c src/dsp/upsampling_sse2.c src/dsp/yuv_sse2.c \
  src/utils/bit_reader_utils.c src/utils/color_cache_utils.c src/utils/filters_utils.c src/utils/huffman_utils.c \
  src/utils/quant_levels_dec_utils.c src/utils/random_utils.c src/utils/rescaler_utils.c src/utils/thread_utils.c \
  src/utils/utils.c"
# No threads (Workers have none). SIMD: libwebp's SSE2 paths through emscripten's SSE2-to-wasm-SIMD headers
# (src/dsp/cpu.c reports SSE2 under EMSCRIPTEN when WEBP_HAVE_SSE2 is set); Workers' V8 has wasm SIMD. Measured
# in Node 22 against the plain C build (same pixels): a 50 MP photo at 1/4 1.86 vs 2.38 s, at 1/1 2.50 vs 3.01 s,
# the 24 MP panorama at 1/8 1.42 vs 1.46 s; the module is 337 KB instead of 120 KB.
emcc -O3 -I. -DNDEBUG -msimd128 -msse2 -DWEBP_HAVE_SSE2 \
  $files "$here/webp_scaled.c" \
  -sSTANDALONE_WASM --no-entry \
  -sEXPORTED_FUNCTIONS=_ws_alloc,_ws_free,_ws_decode \
  -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=1MB -sTOTAL_STACK=256KB -sMAXIMUM_MEMORY=1GB \
  -sMALLOC=emmalloc -sFILESYSTEM=0 -sERROR_ON_UNDEFINED_SYMBOLS=1 \
  -o "$here/webp_scaled.wasm"
ls -l "$here/webp_scaled.wasm"
