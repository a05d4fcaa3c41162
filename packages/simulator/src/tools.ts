/**
 * Tool calls: which tool the simulated assistant calls, with arguments made from the tool's JSON
 * schema. Each API reads its own `tools` and `tool_choice` and writes its own call; the rule is
 * shared. With tools offered it calls the first one (or the one `tool_choice` names), unless the
 * choice is "none" or the conversation ends with a tool result, which it answers in text, so an
 * agent loop ends after one round.
 */
import { isObject, type JsonObject } from './answer.js'

/** A tool the request offers: its name and the JSON schema of its input. */
export interface OfferedTool {
  name: string
  schema: unknown
}

/** `auto`: the model may call a tool; `required`: it must; `none`: it must not; `{ name }`: that tool. */
export type ToolChoice = 'auto' | 'required' | 'none' | { name: string }

export interface ToolCall {
  name: string
  args: JsonObject
}

/**
 * The call the assistant makes, or null for a text answer. `afterToolResult`: the last message is
 * a tool result. A named tool that is not offered is called anyway, as the name is all it needs.
 */
export function plannedToolCall(tools: OfferedTool[], choice: ToolChoice, afterToolResult: boolean, userText: string): ToolCall | null {
  if (tools.length === 0 || choice === 'none') return null
  if (typeof choice === 'object') {
    const named = tools.find((t) => t.name === choice.name)
    return { name: choice.name, args: argsFor(named?.schema, userText) }
  }
  if (afterToolResult && choice === 'auto') return null
  const [first] = tools
  return { name: first!.name, args: argsFor(first!.schema, userText) }
}

/**
 * Arguments that satisfy a simple JSON schema: each required property (every property when none
 * is marked required) gets its enum's first value, or a value of its type. Strings carry the last
 * user text, so a test can see the request arrived intact.
 */
export function argsFor(schema: unknown, userText: string): JsonObject {
  const value = valueFor(schema, userText, 0)
  return isObject(value) ? value : {}
}

function valueFor(schema: unknown, text: string, depth: number): unknown {
  if (!isObject(schema) || depth > 8) return text
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0]
  if ('const' in schema) return schema.const
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  // Gemini writes types in capitals (`OBJECT`, `STRING`).
  switch (typeof type === 'string' ? type.toLowerCase() : isObject(schema.properties) ? 'object' : 'string') {
    case 'object': {
      const properties = isObject(schema.properties) ? schema.properties : {}
      const required = Array.isArray(schema.required) ? schema.required.filter((k): k is string => typeof k === 'string') : Object.keys(properties)
      return Object.fromEntries(required.map((k) => [k, valueFor(properties[k], text, depth + 1)]))
    }
    case 'array':
      return isObject(schema.items) ? [valueFor(schema.items, text, depth + 1)] : []
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 1
    case 'boolean':
      return true
    case 'null':
      return null
    default:
      return text
  }
}

/** Splits serialized JSON into pieces of at most 12 characters, as providers stream arguments. */
export function splitJson(json: string): string[] {
  const pieces: string[] = []
  for (let i = 0; i < json.length; i += 12) pieces.push(json.slice(i, i + 12))
  return pieces.length > 0 ? pieces : ['']
}

/** The text of a tool result's content: a string, or text parts. */
export function resultText(content: unknown): string {
  if (typeof content === 'string') return content
  if (Array.isArray(content)) return content.map((p) => (isObject(p) && typeof p.text === 'string' ? p.text : '')).join('')
  return JSON.stringify(content ?? '')
}

export function toolResultReply(result: string): string {
  return `Simulated reply to tool result: ${result}`
}
