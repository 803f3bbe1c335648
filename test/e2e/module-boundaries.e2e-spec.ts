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
    ({
      getType: () => type,
      getHandler: () => handler,
      getClass: () => Gateway,
      // A socket the session adapter did not open: no session on it.
      switchToWs: () => ({ getClient: () => ({}) }),
    }) as unknown as ExecutionContext;

  const guard = new SessionGuard(new Reflector());

  it('lets a @Public() websocket or RPC handler through (a global guard in a hybrid app)', () => {
    expect(guard.canActivate(contextFor(Gateway.prototype.open, 'ws'))).toBe(true);
    expect(guard.canActivate(contextFor(Gateway.prototype.open, 'rpc'))).toBe(true);
  });

  it('fails closed for an RPC handler: microservice messages carry no session', () => {
    expect(guard.canActivate(contextFor(Gateway.prototype.closed, 'rpc'))).toBe(false);
  });

  it('refuses a gateway handler on a socket the session adapter did not open, saying how to install it', () => {
    expect(() => guard.canActivate(contextFor(Gateway.prototype.closed, 'ws'))).toThrow(
      expect.objectContaining({ code: 'SESSION_NOT_LOADED', message: expect.stringContaining('SessionIoAdapter') }),
    );
  });
});
