// Public surface of the cache module: the contract, the registry, the per-request container, and the
// math pieces (predictors, guards, polyfit) for tests, calibration and benchmarks. No ORT types.

export * from './contract.js';
export { createCacheMethod, listCacheMethods, describeCacheMethod, type CacheOverrides, type CacheMethodInfo } from './registry.js';
export { createRequestCache, type RequestCache, type RequestSchedule } from './request-cache.js';
export type { SettingDescription } from './method-def.js';
export { polyfit, polyval } from './polyfit.js';
export { DividedDifferences, type TableForm } from './divided-differences.js';
export { ValueHistory, type HistoryEntry } from './history.js';
export { stageOf, stageBoundary, intervalFull, fullStepGuard, maxSkipsGuard, type FullStepGuards, type IntervalMode } from './guards.js';
export {
  stabilityFactor,
  trajectoryStabilityIndicator,
  guardDenominator,
  padePaperInto,
  earlyBlendInto,
  addIncrementInto,
  linearExtrapolateInto,
  rationalExtrapolateInto,
  leastSquaresWeights,
} from './tcpade-math.js';
export { referencePredictionInto, smallHistoryAverageInto, type ReferenceSettings } from './tcpade-reference.js';
export {
  tcPadePredictInto,
  resolveAutoExtrapolation,
  blendWeight,
  extrapolationGains,
  isAuto,
  type BlendBacktest,
  type ResolvedExtrapolation,
  type PredictOptions, type TcPadeSettings, type ResidualPoint } from './tcpade.js';
export { relativeL1, allFinite } from './vec.js';
