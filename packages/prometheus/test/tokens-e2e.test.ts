/**
 * End to end: the usage the mock provider sends reaches `record.usage` and `aibridge_tokens_total`,
 * for both providers, JSON and SSE, gzip included. Needs the usage reader wired into the request path.
 */
import { describe, expect, test } from 'vitest'
import { fixture } from '../../../test/support/fixture.js'
import { scriptedFaults, SENT, series } from './helpers.js'

const h = fixture()

describe('token usage end to end', () => {
  test('records carry the model and usage the provider sent', async () => {
    const { b } = await scriptedFaults(h)
    const byRequest = b.records.map((r) => ({ provider: r.provider, model: r.model, usage: r.usage }))
    expect(byRequest).toEqual([
      { provider: 'anthropic', ...SENT.anthropicJson },
      { provider: 'anthropic', ...SENT.anthropicStream },
      { provider: 'openai', ...SENT.openaiJson },
      { provider: 'openai', ...SENT.openaiStream },
      // gzip-compressed JSON
      { provider: 'anthropic', ...SENT.anthropicJson },
      { provider: 'openai', ...SENT.openaiJson },
    ])
  })

  test('the scrape adds them up by provider, model and kind', async () => {
    const { scrape } = await scriptedFaults(h)
    expect(series(await scrape(), 'aibridge_tokens_total')).toEqual({
      'provider="anthropic",model="claude-sonnet-4-6",kind="input"': 36,
      'provider="anthropic",model="claude-sonnet-4-6",kind="output"': 18,
      'provider="openai",model="gpt-4.1-2025-04-14",kind="input"': 47,
      'provider="openai",model="gpt-4.1-2025-04-14",kind="output"': 32,
      'provider="openai",model="gpt-4.1-2025-04-14",kind="cache_read"': 3,
    })
  })
})
