// What an example prints when it starts.

/** What to tell the person who started the app: where the keys go, and how to point a client at it. */
export function banner(name, { url, bridge, simulator }) {
  const lines = [`aibridge ${name} example`]
  if (simulator) {
    lines.push(
      `  No ANTHROPIC_API_KEYS or OPENAI_API_KEYS set: using the local SIMULATOR at ${simulator.url}`,
      '  (simulated providers and fake keys; no real provider is called). Set the variables to use real keys.',
    )
  } else {
    lines.push('  Keys from ANTHROPIC_API_KEYS / OPENAI_API_KEYS: requests go to the real providers.')
  }
  // Hints (maskKey: 'sk-a...0001'), never keys.
  const states = bridge.keyStates()
  for (const [provider, keys] of Object.entries(states)) {
    lines.push(`  ${provider}: ${keys.length} key(s): ${keys.map((k) => k.hint).join(', ')}`)
  }
  lines.push('', `Listening on ${url}`)
  if (states.anthropic) lines.push(`  Anthropic SDK baseURL: ${url}/ai/anthropic`)
  if (states.openai) lines.push(`  OpenAI SDK baseURL:    ${url}/ai/openai/v1`)
  lines.push(`  Key states:            ${url}/health`, '', 'Try it (send no credential: the pool serves the request):')
  if (states.anthropic) {
    lines.push(
      `  curl ${url}/ai/anthropic/v1/messages -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \\`,
      `    -d '{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"Hello"}]}'`,
    )
  }
  if (states.openai) {
    lines.push(
      `  curl -N ${url}/ai/openai/v1/chat/completions -H 'content-type: application/json' \\`,
      `    -d '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hello"}]}'`,
    )
  }
  lines.push('', 'Each request is logged below, one line each. Ctrl-C stops.')
  return lines.join('\n')
}
