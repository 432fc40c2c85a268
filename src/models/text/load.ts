// loadTextEncoder: a text encoder from a transformers folder — config.json + model.safetensors or the shards of
// model.safetensors.index.json, F32 / BF16 / F16 — checked against its config from the headers alone. Nothing
// else is read until the first forward.
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointError } from '../../io/errors.js';
import { readJsonObject } from '../../io/json.js';
import { textEncoderConfigFromJson } from './config.js';
import { TextEncoderModel, type TextEncoderOptions } from './encoder.js';
import { findTextEncoderWeights, openTextWeights } from './weights.js';

/**
 * A CLIP text model, T5 or umT5 encoder from `folder` (config.json + model.safetensors[.index.json]); `kind`
 * says which ('clip' | 't5' | 'umt5'). Errors name the file looked for and what did not fit.
 */
export async function loadTextEncoder(folder: string, opts: TextEncoderOptions = {}): Promise<TextEncoderModel> {
  if (!fs.existsSync(folder)) throw new CheckpointError(folder, 'does not exist', 'Pass a text encoder folder (config.json + model.safetensors), e.g. a pipeline\'s text_encoder/.');
  if (!fs.statSync(folder).isDirectory()) throw new CheckpointError(folder, 'is not a folder', 'Pass the folder that holds config.json and model.safetensors.');
  const configFile = path.join(folder, 'config.json');
  if (!fs.existsSync(configFile)) throw new CheckpointError(folder, 'holds no config.json', 'A text encoder folder holds config.json beside model.safetensors (or model.safetensors.index.json and its shards).');
  const config = textEncoderConfigFromJson(readJsonObject(configFile), configFile);
  const files = findTextEncoderWeights(folder);
  return new TextEncoderModel(folder, config, openTextWeights(config, files, configFile), opts);
}
