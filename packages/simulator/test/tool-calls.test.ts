import type Anthropic from '@anthropic-ai/sdk'
import type OpenAI from 'openai'
import { describe, expect, test } from 'vitest'
import { A_HEADERS, anthropicClient, openaiClient, parseSSE, useSimulator } from './helpers/sim.js'

const h = useSimulator()

const weatherSchema = {
  type: 'object',
  properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] }, days: { type: 'integer', minimum: 1 } },
  required: ['city', 'unit', 'days'],
}
const expectedArgs = (text: string) => ({ city: text, unit: 'celsius', days: 1 })

describe('Anthropic tool_use', () => {
  const tools: Anthropic.Tool[] = [
    { name: 'get_weather', description: 'Weather for a city', input_schema: weatherSchema as Anthropic.Tool.InputSchema },
    { name: 'get_time', input_schema: { type: 'object', properties: {} } },
  ]
  const ask = (content: string) => ({ model: 'claude-sim-1', max_tokens: 64, tools, messages: [{ role: 'user' as const, content }] })

  test('a request with tools gets a tool_use block for the first tool, stop_reason tool_use', async () => {
    const msg = await anthropicClient(h.sim).messages.create(ask('Paris'))
    expect(msg.stop_reason).toBe('tool_use')
    expect(msg.content).toEqual([{ type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'get_weather', input: expectedArgs('Paris') }])
  })

  test('the stream helper collects the tool call from input_json_delta events', async () => {
    const stream = anthropicClient(h.sim).messages.stream(ask('Rome'))
    const partials: string[] = []
    stream.on('inputJson', (partial) => partials.push(partial))
    const final = await stream.finalMessage()
    expect(final.stop_reason).toBe('tool_use')
    expect(final.content).toEqual([{ type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'get_weather', input: expectedArgs('Rome') }])
    expect(partials.length).toBeGreaterThan(2)
    expect(partials.join('')).toBe(JSON.stringify(expectedArgs('Rome')))
  })

  test('on the wire: content_block_start with tool_use and empty input, then input_json_delta pieces', async () => {
    const res = await fetch(`${h.sim.anthropicBaseURL}/v1/messages`, { method: 'POST', headers: A_HEADERS, body: JSON.stringify({ ...ask('Oslo'), stream: true }) })
    const events = parseSSE(await res.text())
    const start = events.find((e) => e.event === 'content_block_start')!.data as { content_block: unknown }
    expect(start.content_block).toMatchObject({ type: 'tool_use', name: 'get_weather', input: {} })
    const deltas = events.filter((e) => e.event === 'content_block_delta').map((e) => (e.data as { delta: { type: string; partial_json: string } }).delta)
    expect(deltas.every((d) => d.type === 'input_json_delta')).toBe(true)
    expect(deltas[0]!.partial_json).toBe('')
    expect(JSON.parse(deltas.map((d) => d.partial_json).join(''))).toEqual(expectedArgs('Oslo'))
    const delta = events.find((e) => e.event === 'message_delta')!.data as { delta: { stop_reason: string } }
    expect(delta.delta.stop_reason).toBe('tool_use')
  })

  test('tool_choice picks the tool, or none; a tool_result is answered in text', async () => {
    const client = anthropicClient(h.sim)
    const forced = await client.messages.create({ ...ask('x'), tool_choice: { type: 'tool', name: 'get_time' } })
    expect(forced.content[0]).toMatchObject({ type: 'tool_use', name: 'get_time', input: {} })
    const none = await client.messages.create({ ...ask('no tools'), tool_choice: { type: 'none' } })
    expect(none.content).toEqual([{ type: 'text', text: 'Simulated reply to: no tools' }])

    const first = await client.messages.create(ask('Paris'))
    const toolUse = first.content[0] as Anthropic.ToolUseBlock
    const answer = await client.messages.create({
      ...ask('Paris'),
      messages: [
        { role: 'user', content: 'Paris' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: '21 degrees' }] },
      ],
    })
    expect(answer.stop_reason).toBe('end_turn')
    expect(answer.content).toEqual([{ type: 'text', text: 'Simulated reply to tool result: 21 degrees' }])
  })
})

describe('OpenAI tool calls', () => {
  const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: weatherSchema } }]
  const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Lima' }]

  test('Chat Completions: tool_calls with JSON arguments, finish_reason tool_calls', async () => {
    const chat = await openaiClient(h.sim).chat.completions.create({ model: 'gpt-sim', tools, messages })
    const choice = chat.choices[0]!
    expect(choice.finish_reason).toBe('tool_calls')
    expect(choice.message.content).toBeNull()
    const [call] = choice.message.tool_calls as OpenAI.ChatCompletionMessageFunctionToolCall[]
    expect(call).toMatchObject({ id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'get_weather' } })
    expect(JSON.parse(call!.function.arguments)).toEqual(expectedArgs('Lima'))
  })

  test('Chat Completions stream: the .stream() helper assembles the call from argument deltas', async () => {
    const stream = openaiClient(h.sim).chat.completions.stream({ model: 'gpt-sim', tools, messages })
    const deltas: string[] = []
    stream.on('tool_calls.function.arguments.delta', (e) => deltas.push(e.arguments_delta))
    const done: { name: string; parsed_arguments: unknown }[] = []
    stream.on('tool_calls.function.arguments.done', (e) => done.push({ name: e.name, parsed_arguments: e.parsed_arguments }))
    const final = await stream.finalChatCompletion()
    expect(final.choices[0]!.finish_reason).toBe('tool_calls')
    const [call] = final.choices[0]!.message.tool_calls as OpenAI.ChatCompletionMessageFunctionToolCall[]
    expect(JSON.parse(call!.function.arguments)).toEqual(expectedArgs('Lima'))
    expect(deltas.length).toBeGreaterThan(2)
    expect(done).toEqual([{ name: 'get_weather', parsed_arguments: null }])
  })

  test('a tool message is answered in text; tool_choice none answers in text; a named choice calls that tool', async () => {
    const client = openaiClient(h.sim)
    const first = await client.chat.completions.create({ model: 'gpt-sim', tools, messages })
    const call = first.choices[0]!.message.tool_calls![0]!
    const answer = await client.chat.completions.create({
      model: 'gpt-sim',
      tools,
      messages: [...messages, first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: 'sunny' }],
    })
    expect(answer.choices[0]!.message.content).toBe('Simulated reply to tool result: sunny')
    expect(answer.choices[0]!.finish_reason).toBe('stop')
    const none = await client.chat.completions.create({ model: 'gpt-sim', tools, messages, tool_choice: 'none' })
    expect(none.choices[0]!.message.content).toBe('Simulated reply to: Lima')
    const named = await client.chat.completions.create({
      model: 'gpt-sim',
      tools: [...tools, { type: 'function', function: { name: 'other', parameters: { type: 'object', properties: {} } } }],
      messages,
      tool_choice: { type: 'function', function: { name: 'other' } },
    })
    expect(named.choices[0]!.message.tool_calls![0]).toMatchObject({ function: { name: 'other', arguments: '{}' } })
  })

  const responseTools: OpenAI.Responses.FunctionTool[] = [{ type: 'function', name: 'get_weather', parameters: weatherSchema, strict: true }]

  test('Responses: a function_call output item', async () => {
    const response = await openaiClient(h.sim).responses.create({ model: 'gpt-sim', tools: responseTools, input: 'Kyiv' })
    expect(response.output).toEqual([
      { id: expect.stringMatching(/^fc_/), type: 'function_call', status: 'completed', arguments: JSON.stringify(expectedArgs('Kyiv')), call_id: expect.stringMatching(/^call_/), name: 'get_weather' },
    ])
    expect(response.output_text).toBe('')
  })

  test('Responses stream: function_call_arguments deltas, and the helper collects the call', async () => {
    const stream = openaiClient(h.sim).responses.stream({ model: 'gpt-sim', tools: responseTools, input: 'Kyiv' })
    const types: string[] = []
    stream.on('event', (e) => types.push(e.type))
    const final = await stream.finalResponse()
    expect(final.output[0]).toMatchObject({ type: 'function_call', name: 'get_weather', arguments: JSON.stringify(expectedArgs('Kyiv')) })
    expect(types.filter((t) => t === 'response.function_call_arguments.delta').length).toBeGreaterThan(2)
    expect(types.filter((t) => t !== 'response.function_call_arguments.delta')).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ])

    const call = final.output[0] as OpenAI.Responses.ResponseFunctionToolCall
    const answer = await openaiClient(h.sim).responses.create({
      model: 'gpt-sim',
      tools: responseTools,
      input: [{ role: 'user', content: 'Kyiv' }, call, { type: 'function_call_output', call_id: call.call_id, output: 'snow' }],
    })
    expect(answer.output_text).toBe('Simulated reply to tool result: snow')
  })
})
