// Which providers an example serves: real keys from the environment, or the local simulator.

/** The keys of a comma-separated variable; [] when it is unset or empty. */
function keyList(value) {
  return (value ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
}

/** The simulator's fake keys: the only keys it accepts, as a real provider accepts only the keys it issued. */
const SIMULATED_KEYS = {
  anthropic: ['sk-ant-simulated-key-0001', 'sk-ant-simulated-key-0002'],
  openai: ['sk-proj-simulated-key-0001', 'sk-proj-simulated-key-0002'],
}

/**
 * Providers from ANTHROPIC_API_KEYS / OPENAI_API_KEYS. When neither is set, a local simulated
 * Anthropic and OpenAI API (`startSimulator` from @aibridge/simulator) with two fake keys each, so the
 * app runs with no account and no network. The simulator refuses any other key with the provider's
 * 401, so a client whose placeholder key was taken for its own (BYOK) fails here as it would against
 * the real provider. Resolves with `{ providers, simulator }`; `simulator` is null with real providers.
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
  const simulator = await startSimulator({ validKeys: SIMULATED_KEYS })
  const providers = {
    anthropic: { baseURL: simulator.anthropicBaseURL, keys: SIMULATED_KEYS.anthropic },
    openai: { baseURL: simulator.openaiBaseURL, keys: SIMULATED_KEYS.openai },
  }
  return { providers, simulator }
}
