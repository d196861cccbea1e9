export { compilePolicy, malformed, type CompiledPolicy, type CompiledStatement, type PolicyKind } from './document.js';
export { compileCondition, type ConditionLookup } from './conditions.js';
export { evaluatePolicy, type Decision, type Evaluation, type EvaluationRequest } from './evaluate.js';
export { globMatcher } from './glob.js';
