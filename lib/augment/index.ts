export * from './physics';
export * from './rules';
export * from './smooth';
export * from './augmenter';
export * from './spread';
export * from './options';
