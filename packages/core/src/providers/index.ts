import { anthropic } from './anthropic.js'
import { openai } from './openai.js'
import type { ProviderDialect, ProviderType } from './types.js'

export const dialects: Record<ProviderType, ProviderDialect> = { anthropic, openai }
export type { ErrorKind, ProviderDialect, ProviderType } from './types.js'
