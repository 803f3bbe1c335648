import { Controller, Get, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { Public, SessionConfigError, SessionGuard, SessionModule } from '@app/session';

@Controller()
class NothingController {
  @Get()
  index(): string {
    return 'ok';
  }
}

describe('forRootAsync factories that return no options object', () => {
  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'secret'],
    ['an array', ['secret']],
  ])('a factory returning %s fails at boot with a SessionConfigError', async (_label, returned) => {
    const compiling = Test.createTestingModule({
      imports: [SessionModule.forRootAsync({ useFactory: () => returned as never })],
      controllers: [NothingController],
    }).compile();
    await expect(compiling).rejects.toBeInstanceOf(SessionConfigError);
    await expect(compiling).rejects.toMatchObject({
      problems: ['options: the forRootAsync factory must return an object with at least `secret`'],
    });
  });
});

describe('SessionGuard outside HTTP', () => {
  class Gateway {
    open(): void {}
    closed(): void {}
  }
  Public()(Gateway.prototype, 'open', Object.getOwnPropertyDescriptor(Gateway.prototype, 'open')!);

  const contextFor = (handler: () => void, type: string): ExecutionContext =>
    ({ getType: () => type, getHandler: () => handler, getClass: () => Gateway }) as unknown as ExecutionContext;

  const guard = new SessionGuard(new Reflector());

  it('lets a @Public() websocket or RPC handler through (a global guard in a hybrid app)', () => {
    expect(guard.canActivate(contextFor(Gateway.prototype.open, 'ws'))).toBe(true);
    expect(guard.canActivate(contextFor(Gateway.prototype.open, 'rpc'))).toBe(true);
  });

  it('fails closed for any other non-HTTP handler: sessions exist only on HTTP requests', () => {
    expect(guard.canActivate(contextFor(Gateway.prototype.closed, 'ws'))).toBe(false);
    expect(guard.canActivate(contextFor(Gateway.prototype.closed, 'rpc'))).toBe(false);
  });
});
