/** Google-shaped (Gemini API) error bodies, as generativelanguage.googleapis.com sends them. */
import { json, type Script } from './upstream.js'

const TYPE = 'type.googleapis.com/google.rpc.'

export function googleError(code: number, status: string, message: string, details: unknown[] = []): unknown {
  return { error: { code, message, status, ...(details.length > 0 ? { details } : {}) } }
}

export const retryInfo = (retryDelay: unknown) => ({ '@type': `${TYPE}RetryInfo`, retryDelay })
export const errorInfo = (reason: string) => ({ '@type': `${TYPE}ErrorInfo`, reason, domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } })
export const quotaFailure = (quotaId: string, quotaMetric = 'generativelanguage.googleapis.com/generate_content_free_tier_requests') => ({
  '@type': `${TYPE}QuotaFailure`,
  violations: [{ quotaMetric, quotaId, quotaDimensions: { location: 'global', model: 'gemini-2.5-flash' }, quotaValue: '10' }],
})
const help = { '@type': `${TYPE}Help`, links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }] }

const QUOTA_MESSAGE = 'You exceeded your current quota, please check your plan and billing details.'

/** A per-minute quota 429: QuotaFailure, Help and RetryInfo, in the order Google lists them. */
export const perMinute429 = (retryDelay = '37s') =>
  googleError(429, 'RESOURCE_EXHAUSTED', QUOTA_MESSAGE, [quotaFailure('GenerateRequestsPerMinutePerProjectPerModel-FreeTier'), help, retryInfo(retryDelay)])

/** A per-day quota 429: it carries a RetryInfo too, which is no use until midnight Pacific. */
export const perDay429 = (retryDelay = '12s') =>
  googleError(429, 'RESOURCE_EXHAUSTED', QUOTA_MESSAGE, [quotaFailure('GenerateRequestsPerDayPerProjectPerModel-FreeTier'), help, retryInfo(retryDelay)])

export const keyInvalid400 = (reason = 'API_KEY_INVALID') =>
  googleError(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
    errorInfo(reason),
    { '@type': `${TYPE}LocalizedMessage`, locale: 'en-US', message: 'API key not valid. Please pass a valid API key.' },
  ])

export const gemini429 = (retryDelay?: string): Script => json(429, perMinute429(retryDelay))

/** A generateContent answer with `text`. */
export function geminiAnswer(text: string): unknown {
  return {
    candidates: [{ content: { parts: [{ text }], role: 'model' }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 4, totalTokenCount: 7 },
    modelVersion: 'gemini-2.5-flash',
    responseId: 'resp_upstream_1',
  }
}

/** streamGenerateContent?alt=sse events for `text`, one word each, as Google frames them (CRLF). */
export function geminiStreamEvents(text: string): string[] {
  const words = text.split(' ')
  return words.map((w, i) => {
    const last = i === words.length - 1
    const chunk = {
      candidates: [{ content: { parts: [{ text: i === 0 ? w : ` ${w}` }], role: 'model' }, ...(last ? { finishReason: 'STOP' } : {}), index: 0 }],
      ...(last ? { usageMetadata: { promptTokenCount: 3, candidatesTokenCount: words.length, totalTokenCount: 3 + words.length } } : {}),
      modelVersion: 'gemini-2.5-flash',
    }
    return `data: ${JSON.stringify(chunk)}\r\n\r\n`
  })
}
