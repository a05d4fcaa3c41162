/**
 * Behind Express, req and res reach the bridge with a hidden class of their own (Express swapped their
 * prototypes and added properties): the bridge puts them in dictionary mode, so nothing after it makes
 * a new hidden class per request, and the host sees the same objects: its listeners, settings and
 * properties set before the bridge, and Express's own methods after it.
 */
import { describe, expect, it } from 'vitest'
import type { Request, Response } from 'express'
import { hasFastProperties, sameHiddenClass } from '../../../test/support/hidden-class.js'
import { flavours, K1, setup } from './helpers.js'

describe.each(flavours)('$name', ({ express }) => {
  const t = setup()

  it('serves with req and res in dictionary mode, and keeps what the host set on them', async () => {
    const seen: Record<string, unknown>[] = []
    const objects: Array<{ req: Request; res: Response }> = []
    const shared: boolean[] = []
    const app = express()
    app.use((req, res, next) => {
      objects.push({ req, res })
      // At entry (Express swapped the prototypes, then added properties): a hidden class per request.
      if (objects.length === 2) shared.push(sameHiddenClass(objects[0]!.res, res), sameHiddenClass(objects[0]!.req, req))
      res.setMaxListeners(33)
      res.locals.user = 'u1'
      const atEntry = { req: hasFastProperties(req), res: hasFastProperties(res) }
      res.on('finish', () =>
        seen.push({
          atEntry,
          atFinish: { req: hasFastProperties(req), res: hasFastProperties(res) },
          maxListeners: res.getMaxListeners(),
          locals: res.locals,
          status: res.statusCode,
          originalUrl: req.originalUrl,
          // Express's own methods still come from the prototype it set.
          expressResponse: typeof res.json === 'function' && typeof req.get === 'function',
          contentType: res.get('content-type'),
        }),
      )
      next()
    })
    app.use('/ai', t.aibridge())
    const origin = await t.serve(app)
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${origin}/ai/anthropic/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m"}' })
      expect(res.status).toBe(200)
      expect(((await res.json()) as { key: string }).key).toBe(K1)
    }
    await expect.poll(() => seen.length).toBe(2)
    // Both requests' objects now share one dictionary-mode hidden class (V8's normalized map cache).
    const [a, b] = objects as [{ req: Request; res: Response }, { req: Request; res: Response }]
    expect([...shared, sameHiddenClass(a.res, b.res), sameHiddenClass(a.req, b.req)]).toEqual([false, false, true, true])
    for (const s of seen) {
      expect(s).toEqual({
        atEntry: { req: true, res: true },
        atFinish: { req: false, res: false },
        maxListeners: 33,
        locals: { user: 'u1' },
        status: 200,
        originalUrl: '/ai/anthropic/v1/messages',
        expressResponse: true,
        contentType: expect.stringContaining('application/json'),
      })
    }
  })

  it('leaves req and res as they are for a path it does not serve', async () => {
    const seen: boolean[] = []
    const app = express()
    app.use('/ai', t.aibridge())
    app.use((req, res) => {
      seen.push(hasFastProperties(req), hasFastProperties(res))
      res.send('host')
    })
    const origin = await t.serve(app)
    expect(await (await fetch(`${origin}/ai/not-a-provider/x`)).text()).toBe('host')
    expect(seen).toEqual([true, true])
  })
})
