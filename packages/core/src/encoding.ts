import * as zlib from 'node:zlib'

// zstd arrived in node:zlib with Node 22.15 / 23.8; on older Node it is simply not offered upstream.
const zstd = (zlib as { zstdDecompressSync?: (buf: Buffer, options?: zlib.ZlibOptions) => Buffer }).zstdDecompressSync

// An error body is a few hundred bytes of JSON: a 64 KiB one that inflates past this is not one we
// read (and a decompression bomb must not stall the event loop). Decoding then fails: status decides.
const LIMIT = { maxOutputLength: 1024 * 1024 }

/**
 * Decodes a small error body so it can be classified. Unknown codings come back as they are (and
 * then fail to parse); a 'deflate' body without its zlib wrapper, as some servers send, is accepted.
 */
export function decode(buf: Buffer, encoding: string | undefined): Buffer {
  switch (encoding?.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return zlib.gunzipSync(buf, LIMIT)
    case 'br':
      return zlib.brotliDecompressSync(buf, LIMIT)
    case 'deflate':
      try {
        return zlib.inflateSync(buf, LIMIT)
      } catch {
        return zlib.inflateRawSync(buf, LIMIT)
      }
    case 'zstd':
      return zstd ? zstd(buf, LIMIT) : buf
    default:
      return buf
  }
}

const DECODABLE = new Set(['gzip', 'x-gzip', 'deflate', 'br', 'identity', ...(zstd ? ['zstd'] : [])])

/**
 * A client's Accept-Encoding narrowed to the codings `decode` reads, so an error answer to a pool key
 * can always be classified (a zstd 401 that blames the request must not take every key out). `*`
 * goes too: it would let the provider pick any other coding. The response still goes to the client
 * compressed as the provider sent it.
 */
export function decodableAcceptEncoding(value: string): string {
  const kept = value.split(',').filter((part) => DECODABLE.has(part.split(';', 1)[0]!.trim().toLowerCase()))
  return kept.length > 0 ? kept.map((p) => p.trim()).join(', ') : 'identity'
}
