/**
 * Which prompt a call uses, as sentence-transformers 6.3's CrossEncoder resolves it: the call's
 * `prompt`; else the saved prompt named by `promptName` (an unknown name is an error); else the
 * saved default_prompt_name's prompt; else none. `prompt` wins over `promptName` when both are given.
 */
import { invalidOption } from '../validate';
import type { SavedPrompts } from './saved-config';

export function resolvePrompt(saved: SavedPrompts, prompt: string | undefined, promptName: string | undefined): string | undefined {
  if (prompt !== undefined) return prompt;
  if (promptName !== undefined) {
    if (!Object.hasOwn(saved.prompts, promptName)) {
      const names = Object.keys(saved.prompts);
      throw invalidOption(
        `promptName ${JSON.stringify(promptName)} is not one of the model's prompts ` +
          `(${names.length > 0 ? names.map((n) => JSON.stringify(n)).join(', ') : 'it has none'}: config_sentence_transformers.json).`,
      );
    }
    return saved.prompts[promptName];
  }
  if (saved.defaultPromptName !== null && Object.hasOwn(saved.prompts, saved.defaultPromptName)) return saved.prompts[saved.defaultPromptName];
  return undefined;
}
