/**
 * The status page in a real browser: Debian's Chromium (`apt-get install -y chromium`, done by
 * .ci/run) driven by playwright-core. Skipped, saying so, where Chromium is missing, except in CI.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { post } from '../../../test/support/http.js'
import { anthropicMessage, byKey, json, rateLimited } from '../../../test/support/upstream.js'
import { maskKey, statusPage } from '../src/index.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const CHROMIUM = '/usr/bin/chromium'
const available = existsSync(CHROMIUM)
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url))

if (!available && process.env.CI !== 'true') {
  console.warn(`status-page-browser.test.ts: SKIPPED, no Chromium at ${CHROMIUM} (apt-get install -y chromium)`)
}

const h = harness()
const K1 = testKey('spb1')
const K2 = testKey('spb2')

describe.skipIf(!available && process.env.CI !== 'true')('the status page in Chromium', () => {
  let browser: Browser

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
  })

  test('a rate-limited key shows as cooling, its countdown goes down, then it is valid again', async () => {
    const b = await h.start({ providers: { anthropic: { keys: [K1, K2], baseURL: h.up.url } } }, (bridge) => {
      const page = statusPage(bridge, { authorize: 'public' })
      return (req, res) => void (req.url === '/ai/status' ? page(req, res) : bridge.handle(req, res))
    })
    h.up.handle(byKey({ [K1]: rateLimited({ 'retry-after': '4' }, 'anthropic'), [K2]: json(200, anthropicMessage()) }))
    expect((await post(b.url, '/anthropic/v1/messages', { model: 'claude-sonnet-4-6', max_tokens: 16, messages: [] })).status).toBe(200)

    const page = await browser.newPage()
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text())
    })
    await page.goto(`${b.url}/ai/status`)

    const cooling = page.locator(`section[data-provider="anthropic"] tr[data-key="${maskKey(K1)}"]`)
    await cooling.and(page.locator('[data-state="temporary"]')).waitFor({ timeout: 10_000 })
    await expect.poll(() => cooling.locator('.state').textContent()).toBe('cooling')
    expect(await cooling.locator('td').nth(2).textContent()).toBe('rate limited')
    expect(await cooling.locator('td').nth(3).textContent()).toBe('429')
    const first = Number(await cooling.locator('.countdown').getAttribute('data-remaining'))
    expect(first).toBeGreaterThan(0)
    expect(first).toBeLessThanOrEqual(4)
    expect(await cooling.locator('.countdown').textContent()).toBe(`${first}s`)

    // The recent request: its outcome and the keys it tried, in order.
    const request = page.locator(`tr[data-request="${b.records[0]!.id}"]`)
    await request.waitFor()
    expect(await request.locator('.outcome').textContent()).toBe('ok')
    expect(await request.locator('td').nth(5).textContent()).toBe(`${maskKey(K1)} → ${maskKey(K2)}`)

    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: `${ARTIFACTS}status-page.png`, fullPage: true })

    // Counting down (locally, every second), then back in service.
    await expect.poll(async () => Number(await cooling.locator('.countdown').getAttribute('data-remaining')), { timeout: 5_000 }).toBeLessThan(first)
    await expect.poll(() => cooling.getAttribute('data-state'), { timeout: 10_000 }).toBe('valid')
    expect(await cooling.locator('.state').textContent()).toBe('valid')
    expect(await cooling.locator('.countdown').textContent()).toBe('')

    const text = (await page.content()) + (await page.locator('body').innerText())
    expect(text).not.toContain(K1)
    expect(text).not.toContain(K2)
    expect(errors).toEqual([])
    await page.close()
  }, 60_000)
})
