import { anthropic } from './anthropic.js'
import { azure } from './azure.js'
import { gemini } from './gemini.js'
import { openai } from './openai.js'
import type { ProviderDialect, ProviderType } from './types.js'

export const dialects: Record<ProviderType, ProviderDialect> = { anthropic, openai, gemini, azure }

/** The provider types, for option messages. */
export const providerTypes = Object.keys(dialects) as ProviderType[]

export function isProviderType(value: unknown): value is ProviderType {
  return typeof value === 'string' && Object.hasOwn(dialects, value)
}

export type { ErrorDetail, ErrorKind, ProviderDialect, ProviderType } from './types.js'
