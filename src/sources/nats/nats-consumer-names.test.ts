// Goal: a lease generation's consumer name and its parse agree, and no other durable's consumer is
// mistaken for one of a partition's. Method: names built and parsed, and near misses refused.
import { describe, expect, it } from 'vitest';
import { consumerNameOf, generationOfConsumer, newestConsumerOf } from './nats-consumer-names.js';

describe('consumer names per lease generation', () => {
  it('names a generation’s consumer and reads its generation back', () => {
    expect(consumerNameOf('w_p1', 7)).toBe('w_p1_g7');
    expect(consumerNameOf('w_p1', undefined)).toBe('w_p1');
    for (const generation of [1, 2, 10, 123_456]) {
      expect(generationOfConsumer(consumerNameOf('w_p1', generation), 'w_p1')).toBe(generation);
    }
    expect(generationOfConsumer('w_p1', 'w_p1')).toBe(0);
  });

  it('refuses another partition’s consumer and malformed suffixes', () => {
    for (const name of [
      'w_p10_g3',
      'w_p10',
      'w_p1_g',
      'w_p1_g03',
      'w_p1_gx',
      'w_p1_g1_g2',
      'x_p1',
    ]) {
      expect(generationOfConsumer(name, 'w_p1')).toBeNull();
    }
  });

  it('finds the newest generation among a stream’s consumers', () => {
    const names = ['w_p1', 'w_p1_g2', 'w_p10_g9', 'w_p1_g10', 'w_p1_g3', 'other'];
    expect(newestConsumerOf(names, 'w_p1')).toEqual({ name: 'w_p1_g10', generation: 10 });
    expect(newestConsumerOf(['w_p1'], 'w_p1')).toEqual({ name: 'w_p1', generation: 0 });
    expect(newestConsumerOf(['w_p10_g9'], 'w_p1')).toBeNull();
  });
});
