/**
 * Behind Express, req and res reach the bridge with a hidden class of their own (Express swapped their
 * prototypes and added properties): the bridge puts them in dictionary mode, so nothing after it makes
 * a new hidden class per request, and the host sees the same objects: its listeners, settings and
 * properties set before the bridge, and Express's own methods after it. Requests are sent with
 * node:http: a fetch client in the same process normalizes objects of its own on every request.
 */
import { describe, expect, it } from 'vitest'
import type { Request, Response } from 'express'
import { hasFastProperties, sameHiddenClass } from '../../../test/support/hidden-class.js'
import { post } from '../../../test/support/http.js'
import { flavours, K1, setup } from './helpers.js'

describe.each(flavours)('$name', ({ express }) => {
  const t = setup()

  it('serves with req and res in dictionary mode, and keeps what the host set on them', async () => {
    const seen: Record<string, unknown>[] = []
    const app = express()
    app.use((req, res, next) => {
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
      const res = await post(origin, '/ai/anthropic/v1/messages', { model: 'm' })
      expect(res.status).toBe(200)
      expect(res.json<{ key: string }>().key).toBe(K1)
    }
    await expect.poll(() => seen.length).toBe(2)
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

  it("gives every request's req one hidden class and every res another, where Express gave each its own", async () => {
    // V8 shares a dictionary-mode map through its normalized map cache, whose entry is chosen by the
    // prototype's map. Another object normalized between two requests on the same entry evicts it
    // (rare, and fixed by the app's next prototypes): a fresh app is tried then, up to three.
    const tries: Array<{ atEntry: boolean; req: boolean; res: boolean }> = []
    for (let attempt = 0; attempt < 3; attempt++) {
      const objects: Array<{ req: Request; res: Response }> = []
      const atEntry: boolean[] = []
      const app = express()
      app.use((req, res, next) => {
        const last = objects.at(-1)
        if (last) atEntry.push(sameHiddenClass(last.req, req), sameHiddenClass(last.res, res))
        objects.push({ req, res })
        next()
      })
      app.use('/ai', t.aibridge())
      const origin = await t.serve(app)
      for (let i = 0; i < 6; i++) expect((await post(origin, '/ai/anthropic/v1/messages', { model: 'm' })).status).toBe(200)
      // After two requests to warm up (the first ones' maps may still change their layout).
      const pairs = objects.slice(2).map((o, i) => ({ req: sameHiddenClass(objects[i + 1]!.req, o.req), res: sameHiddenClass(objects[i + 1]!.res, o.res) }))
      tries.push({ atEntry: atEntry.some(Boolean), req: pairs.some((p) => p.req), res: pairs.some((p) => p.res) })
      if (tries.at(-1)!.req && tries.at(-1)!.res) break
    }
    // At entry no two requests ever share one (Express's doing); after the bridge they do.
    expect(tries.at(-1)).toEqual({ atEntry: false, req: true, res: true })
    expect(tries.every((x) => !x.atEntry)).toBe(true)
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
