// Which providers an example serves: real keys from the environment, or the local simulator.

/** The keys of a comma-separated variable; [] when it is unset or empty. */
function keyList(value) {
  return (value ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
}

/**
 * Providers from ANTHROPIC_API_KEYS / OPENAI_API_KEYS. When neither is set, a local simulated
 * Anthropic and OpenAI API (`startSimulator` from @aibridge/simulator) with two fake keys each, so the
 * app runs with no account and no network. Resolves with `{ providers, simulator }`; `simulator` is
 * null with real providers.
 */
export async function providersFromEnv(env, startSimulator) {
  const anthropic = keyList(env.ANTHROPIC_API_KEYS)
  const openai = keyList(env.OPENAI_API_KEYS)
  if (anthropic.length > 0 || openai.length > 0) {
    const providers = {}
    if (anthropic.length > 0) providers.anthropic = { keys: anthropic }
    if (openai.length > 0) providers.openai = { keys: openai }
    return { providers, simulator: null }
  }
  const simulator = await startSimulator()
  const providers = {
    anthropic: { baseURL: simulator.anthropicBaseURL, keys: ['sk-ant-simulated-key-0001', 'sk-ant-simulated-key-0002'] },
    openai: { baseURL: simulator.openaiBaseURL, keys: ['sk-proj-simulated-key-0001', 'sk-proj-simulated-key-0002'] },
  }
  return { providers, simulator }
}
