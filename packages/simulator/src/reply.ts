/**
 * The simulated assistant: a deterministic reply that echoes the last user message, so a test can
 * tell that the request body arrived intact, and plausible token counts.
 */

import { isObject, type JsonObject as Json } from './answer.js'

/** The text parts of a message content: a string, or an array of `{type, text}` parts. */
function contentText(content: unknown, partTypes: readonly string[]): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content
    .filter((p): p is Json => isObject(p) && partTypes.includes(String(p.type)) && typeof p.text === 'string')
    .map((p) => p.text as string)
    .join('')
}

function lastUserText(items: unknown, partTypes: readonly string[]): string {
  if (!Array.isArray(items)) return ''
  for (let i = items.length - 1; i >= 0; i--) {
    const item: unknown = items[i]
    if (isObject(item) && item.role === 'user') return contentText(item.content, partTypes)
  }
  return ''
}

/** Anthropic Messages and OpenAI Chat Completions: `messages[]` with `role` and `content`. */
export function lastUserMessageText(body: Json): string {
  return lastUserText(body.messages, ['text', 'input_text'])
}

/** OpenAI Responses: `input` is a string or a list of items, messages among them. */
export function lastResponsesInputText(body: Json): string {
  if (typeof body.input === 'string') return body.input
  return lastUserText(body.input, ['input_text', 'text'])
}

/** Gemini: `contents[]` of `{ role, parts: [{ text }] }`; a content without a role is the user's. */
export function lastGeminiUserText(body: Json): string {
  if (!Array.isArray(body.contents)) return ''
  for (let i = body.contents.length - 1; i >= 0; i--) {
    const content: unknown = body.contents[i]
    if (isObject(content) && (content.role === undefined || content.role === 'user') && Array.isArray(content.parts)) {
      return content.parts.map((p) => (isObject(p) && typeof p.text === 'string' ? p.text : '')).join('')
    }
  }
  return ''
}

export function replyText(userText: string): string {
  return `Simulated reply to: ${userText}`
}

/**
 * Splits a reply into streaming deltas, one word (with its trailing spaces) each; joined they give
 * back the text exactly. "Simulated reply to: x" always makes at least four.
 */
export function splitDeltas(text: string): string[] {
  return text.match(/^\s+|\S+\s*/g) ?? [text]
}

/** About four bytes a token, as the providers' own rule of thumb; never 0. */
export function estimateTokens(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? '')
  return Math.max(1, Math.ceil(Buffer.byteLength(text) / 4))
}
