/**
 * The viewer's pure parts (issue 14 item 8): hanging protocol choice, orientation marker
 * arithmetic, window presets per modality and the slice matching of synchronised scrolling.
 * A unit test: no browser; the modules import nothing of Cornerstone.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseHanging, isLocalizer, viewKindOf, type ProtocolSeries } from '../src/viewer/hanging-protocols.ts';
import { markersFor, orientationLabel, planeOf, screenAxes } from '../src/viewer/orientation.ts';
import { CT_WINDOW_PRESETS, presetForKey, presetsFor, toVoiRange, toWindow } from '../src/viewer/presets.ts';
import { coplanar, matchingSlice, pairOffset, type SyncStackGeometry } from '../src/viewer/slice-sync.ts';

const AXIAL = [1, 0, 0, 0, 1, 0];
const CORONAL = [1, 0, 0, 0, 0, -1];
const SAGITTAL = [0, 1, 0, 0, 0, -1];

describe('hanging protocols', () => {
  test('DR with a PA and a lateral view: side by side, frontal left, whatever the series order', () => {
    const series: ProtocolSeries[] = [
      { seriesInstanceUid: 'lat', modality: 'DX', seriesNumber: 1, viewPosition: 'LL' },
      { seriesInstanceUid: 'pa', modality: 'DX', seriesNumber: 2, viewPosition: 'PA' },
    ];
    const choice = chooseHanging(series);
    assert.equal(choice.protocol, 'projection-frontal-lateral');
    assert.equal(choice.layout, '1x2');
    assert.deepEqual(choice.order, ['pa', 'lat']);
  });

  test('CR views told apart by their description when ViewPosition is empty', () => {
    const choice = chooseHanging([
      { seriesInstanceUid: 'a', modality: 'CR', description: '胸部正位' },
      { seriesInstanceUid: 'b', modality: 'CR', description: '胸部侧位' },
    ]);
    assert.equal(choice.layout, '1x2');
    assert.deepEqual(choice.order, ['a', 'b']);
    assert.equal(viewKindOf({ seriesInstanceUid: 'x', modality: 'DR', description: 'Chest LAT' }), 'lateral');
    assert.equal(viewKindOf({ seriesInstanceUid: 'x', modality: 'DR', viewPosition: 'AP' }), 'frontal');
  });

  test('one projection series of two images: its two images side by side', () => {
    const choice = chooseHanging([{ seriesInstanceUid: 'chest', modality: 'DR', instanceCount: 2 }]);
    assert.equal(choice.layout, '1x2');
    assert.deepEqual(choice.slotImages, [
      { seriesInstanceUid: 'chest', index: 0 },
      { seriesInstanceUid: 'chest', index: 1 },
    ]);
    assert.equal(chooseHanging([{ seriesInstanceUid: 'chest', modality: 'DR', instanceCount: 1 }]).layout, '1x1');
    assert.equal(chooseHanging([{ seriesInstanceUid: 'us', modality: 'US', instanceCount: 2 }]).layout, '1x1');
  });

  test('two frontal radiographs (no lateral) stay 1×1', () => {
    const choice = chooseHanging([
      { seriesInstanceUid: 'a', modality: 'DX', viewPosition: 'PA' },
      { seriesInstanceUid: 'b', modality: 'DX', viewPosition: 'AP' },
    ]);
    assert.equal(choice.layout, '1x1');
    assert.deepEqual(choice.order, ['a', 'b']);
  });

  test('CT: the axial series with the most slices, never the localizer, opening at the first slice', () => {
    const series: ProtocolSeries[] = [
      { seriesInstanceUid: 'scout', modality: 'CT', seriesNumber: 1, instanceCount: 2, imageOrientation: CORONAL, imageType: ['ORIGINAL', 'PRIMARY', 'LOCALIZER'] },
      { seriesInstanceUid: 'thick', modality: 'CT', seriesNumber: 2, instanceCount: 40, imageOrientation: AXIAL },
      { seriesInstanceUid: 'thin', modality: 'CT', seriesNumber: 3, instanceCount: 200, imageOrientation: AXIAL },
      { seriesInstanceUid: 'cor', modality: 'CT', seriesNumber: 4, instanceCount: 400, imageOrientation: CORONAL },
    ];
    const choice = chooseHanging(series);
    assert.equal(choice.protocol, 'ct-axial');
    assert.equal(choice.layout, '1x1');
    assert.equal(choice.order[0], 'thin');
    assert.deepEqual([...choice.order].sort(), ['cor', 'scout', 'thick', 'thin']);
    assert.equal(choice.initialIndex, 0);
  });

  test('CT localizer by description; a CT without axial series takes its largest', () => {
    assert.ok(isLocalizer({ seriesInstanceUid: 's', modality: 'CT', description: 'Topogram 0.6 T20f' }));
    assert.ok(isLocalizer({ seriesInstanceUid: 's', modality: 'CT', description: '定位像' }));
    assert.ok(!isLocalizer({ seriesInstanceUid: 's', modality: 'CT', description: 'Chest 1.25mm' }));
    const choice = chooseHanging([
      { seriesInstanceUid: 'scout', modality: 'CT', instanceCount: 1, description: 'Scout' },
      { seriesInstanceUid: 'sag', modality: 'CT', instanceCount: 30, imageOrientation: SAGITTAL },
      { seriesInstanceUid: 'cor', modality: 'CT', instanceCount: 60, imageOrientation: CORONAL },
    ]);
    assert.equal(choice.order[0], 'cor');
  });

  test('other modalities: the first series that is not a localizer', () => {
    const choice = chooseHanging([
      { seriesInstanceUid: 'loc', modality: 'MR', imageType: ['ORIGINAL', 'PRIMARY', 'LOCALIZER'] },
      { seriesInstanceUid: 't2', modality: 'MR' },
    ]);
    assert.equal(choice.protocol, 'default');
    assert.deepEqual(choice.order, ['t2', 'loc']);
  });
});

describe('orientation markers', () => {
  test('letters of a direction', () => {
    assert.equal(orientationLabel([1, 0, 0]), 'L');
    assert.equal(orientationLabel([-1, 0, 0]), 'R');
    assert.equal(orientationLabel([0, 1, 0]), 'P');
    assert.equal(orientationLabel([0, -1, 0]), 'A');
    assert.equal(orientationLabel([0, 0, 1]), 'H');
    assert.equal(orientationLabel([0, 0, -1]), 'F');
    assert.equal(orientationLabel([0.8, -0.6, 0]), 'LA');
    assert.equal(orientationLabel([0.1, 0, -0.99]), 'F');
  });

  test('axial, coronal and sagittal images as stored', () => {
    const axial = screenAxes(AXIAL);
    assert.deepEqual(markersFor(axial.right, axial.down), { right: 'L', left: 'R', bottom: 'P', top: 'A' });
    const coronal = screenAxes(CORONAL);
    assert.deepEqual(markersFor(coronal.right, coronal.down), { right: 'L', left: 'R', bottom: 'F', top: 'H' });
    const sagittal = screenAxes(SAGITTAL);
    assert.deepEqual(markersFor(sagittal.right, sagittal.down), { right: 'P', left: 'A', bottom: 'F', top: 'H' });
  });

  test('rotation clockwise and flips move the letters', () => {
    const turned = screenAxes(AXIAL, { rotation: 90 });
    assert.deepEqual(markersFor(turned.right, turned.down), { right: 'A', left: 'P', bottom: 'L', top: 'R' });
    const half = screenAxes(AXIAL, { rotation: 180 });
    assert.deepEqual(markersFor(half.right, half.down), { right: 'R', left: 'L', bottom: 'A', top: 'P' });
    const mirrored = screenAxes(AXIAL, { flipHorizontal: true });
    assert.deepEqual(markersFor(mirrored.right, mirrored.down), { right: 'R', left: 'L', bottom: 'P', top: 'A' });
    const upsideDown = screenAxes(CORONAL, { flipVertical: true });
    assert.deepEqual(markersFor(upsideDown.right, upsideDown.down), { right: 'L', left: 'R', bottom: 'H', top: 'F' });
  });

  test('plane names', () => {
    assert.equal(planeOf(AXIAL), 'axial');
    assert.equal(planeOf(CORONAL), 'coronal');
    assert.equal(planeOf(SAGITTAL), 'sagittal');
    assert.equal(planeOf([1, 0, 0, 0, 0.7071, -0.7071]), 'oblique');
    assert.equal(planeOf(undefined), undefined);
  });
});

describe('window presets per modality', () => {
  test('CT has the HU presets on keys 1–9 in order', () => {
    assert.deepEqual(presetsFor('CT').map((p) => p.id), ['lung', 'mediastinum', 'bone', 'brain', 'abdomen', 'liver', 'subdural']);
    assert.deepEqual(presetForKey('CT', '1'), { id: 'lung', width: 1500, center: -600 });
    assert.equal(presetForKey('ct', '2')?.id, 'mediastinum');
    assert.equal(presetForKey('CT', '9'), undefined);
    assert.equal(presetForKey('CT', '0'), undefined);
    assert.equal(presetForKey('CT', 'a'), undefined);
    assert.ok(CT_WINDOW_PRESETS.length <= 9);
  });

  test('DR, CR, DX, MR and US have no HU presets', () => {
    for (const modality of ['DR', 'CR', 'DX', 'MR', 'US', 'MG', undefined]) {
      assert.deepEqual(presetsFor(modality), [], String(modality));
      assert.equal(presetForKey(modality, '1'), undefined);
    }
  });

  test('width/centre and VOI range', () => {
    assert.deepEqual(toVoiRange(1500, -600), { lower: -1350, upper: 150 });
    assert.deepEqual(toWindow({ lower: -1350, upper: 150 }), { width: 1500, center: -600 });
  });
});

describe('synchronised scrolling by position', () => {
  const stack = (start: number, step: number, count: number, frame: string, orientation = AXIAL): SyncStackGeometry => ({
    frameOfReferenceUid: frame,
    orientation,
    positions: Array.from({ length: count }, (_, i) => [0, 0, start - i * step]),
  });

  test('one frame of reference: the nearest slice by position', () => {
    const thick = stack(0, 10, 12, 'f1');
    const thin = stack(0, 5, 24, 'f1');
    assert.equal(pairOffset(thick, 5, thin, 0), 0);
    assert.equal(matchingSlice(thick, 3, thin, 0), 6);
    assert.equal(matchingSlice(thin, 7, thick, 0), 3);
    // beyond the end of the other stack: its last slice
    assert.equal(matchingSlice(stack(-200, 10, 3, 'f1'), 0, thin, 0), 23);
  });

  test('two frames of reference: paired at the slices shown when linked', () => {
    const current = stack(100, 10, 12, 'f1');
    const prior = stack(-50, 5, 24, 'f2');
    const offset = pairOffset(current, 2, prior, 4)!;
    assert.equal(offset, -50 - 20 - 80);
    assert.equal(matchingSlice(current, 2, prior, offset), 4);
    assert.equal(matchingSlice(current, 5, prior, offset), 10);
  });

  test('planes that are not parallel are not synchronised; missing positions are skipped', () => {
    const axial = stack(0, 10, 5, 'f1');
    const coronal = stack(0, 10, 5, 'f1', CORONAL);
    assert.equal(coplanar(axial, coronal), false);
    assert.equal(matchingSlice(axial, 1, coronal, 0), undefined);
    const partial: SyncStackGeometry = { frameOfReferenceUid: 'f1', orientation: AXIAL, positions: [[0, 0, 0], undefined, [0, 0, -20]] };
    assert.equal(matchingSlice(axial, 1, partial, 0), 0);
  });
});
