/**
 * An OpenAI Chat Completions streaming request body with `stream_options.include_usage` set, so the
 * stream reports token usage; undefined when the body is left as it is (not a JSON object, not
 * `"stream": true`, or `stream_options.include_usage` already given, `false` included: the client
 * chose).
 *
 * The effect on the stream: every chunk carries `"usage": null`, and one extra chunk comes last,
 * before `data: [DONE]`, with `"choices": []` and the `usage` of the whole request. The official
 * SDKs read it as the stream's usage; a client that assumes every chunk has a `choices[0]` must
 * skip it.
 *
 * The client's bytes are kept: the field is inserted after the opening brace. Only a body whose
 * `stream_options` is null or lacks `include_usage` is re-serialized (compact whitespace, the values
 * the parser produced).
 */
export function withIncludeUsage(body: Buffer): Buffer | undefined {
  // Cheap refusals first: most bodies this is asked about are not streaming.
  if (body.length < 2 || body.indexOf('"stream"') === -1) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString('utf8'))
  } catch {
    return undefined
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined
  const request = parsed as Record<string, unknown>
  if (request.stream !== true) return undefined
  const options = request.stream_options
  if (options === undefined) {
    // The object holds "stream", so a comma always follows the inserted member.
    const open = body.indexOf('{') + 1
    return Buffer.concat([body.subarray(0, open), INSERTED, body.subarray(open)])
  }
  if (options !== null && (typeof options !== 'object' || Array.isArray(options) || 'include_usage' in options)) return undefined
  return Buffer.from(JSON.stringify({ ...request, stream_options: { ...options, include_usage: true } }))
}

const INSERTED = Buffer.from('"stream_options":{"include_usage":true},')
